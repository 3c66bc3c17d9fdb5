"""The stage contract every stage follows.

A stage has a name, typed parameters (a pydantic model), the columns it reads and writes, and one job.
Its work is cut into units (batches of input rows, chunks of a source file, or the whole table); each unit
returns an `Outcome` in which every input row is accounted for: kept, filtered with a reason, or rejected
with a reason. The runner (`curate.runner`) handles the rest: resume, parallelism, lineage, summary.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ConfigDict

PAYLOAD_CAP = 64 * 1024  # bytes of a rejected row's raw payload kept for inspection


class Params(BaseModel):
    """Base of every stage's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


@dataclass(frozen=True)
class Unit:
    """One shard of work. `key` names its output files; the rest tells the stage what to read."""

    key: str
    path: str | None = None
    offset: int = 0
    length: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Reject:
    reason: str
    message: str
    row_id: str | None = None
    location: str | None = None
    payload: str | None = None


@dataclass
class Filtered:
    row_id: str
    reason: str
    detail: dict[str, Any] | None = None


@dataclass
class Outcome:
    kept: pa.Table | pl.DataFrame
    n_in: int
    filtered: list[Filtered] = field(default_factory=list)
    rejected: list[Reject] = field(default_factory=list)

    def kept_table(self) -> pa.Table:
        return self.kept.to_arrow() if isinstance(self.kept, pl.DataFrame) else self.kept

    def check(self, unit: Unit) -> None:
        counted = self.kept_table().num_rows + len(self.filtered) + len(self.rejected)
        if counted != self.n_in:
            raise AssertionError(
                f"unit {unit.key}: {self.n_in} rows in but {counted} accounted for "
                f"(kept + filtered + rejected); a stage must account for every row"
            )


def cap_payload(text: str | bytes | None) -> str | None:
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text[:PAYLOAD_CAP].decode("utf-8", errors="replace")
    return text if len(text) <= PAYLOAD_CAP else text[:PAYLOAD_CAP] + "…[truncated]"


class Stage:
    """Base class. Subclasses set `name`, `Params`, `reads`, `writes` and implement `run_unit`."""

    name: ClassVar[str]
    Params: ClassVar[type[Params]] = Params
    reads: ClassVar[tuple[str, ...]] = ()
    writes: ClassVar[tuple[str, ...]] = ()
    version: ClassVar[str] = "1"  # bump when the same parameters start giving different rows
    parallel: ClassVar[bool] = True  # units may run in a process pool
    batch_size: ClassVar[int] = 2000
    # Set by the runner before `units()`: the output's staging folder. Files a stage writes there become part
    # of the table's folder (signatures beside the rows, say); its `_work/` subfolder is removed at commit.
    workdir: Path | None = None

    def __init__(self, params: Params | None = None, **kwargs: Any):
        self.params = params if params is not None else self.Params(**kwargs)

    def units(self, input_parts: list[Path]) -> list[Unit]:
        """Batches of `batch_size` rows of the input table, in a fixed order (so resumes line up)."""
        units = []
        for i, path in enumerate(input_parts):
            rows = pq.ParquetFile(path).metadata.num_rows
            for j, offset in enumerate(range(0, max(rows, 1), self.batch_size)):
                units.append(Unit(key=f"{i:05d}-{j:05d}", path=str(path), offset=offset, length=self.batch_size))
        return units

    def check(self, empty: pl.DataFrame) -> None:
        """Fail early, before any work, on parameters that cannot work with the input (its 0-row head)."""

    def setup(self) -> None:
        """Open heavy resources (a browser, a client, a model) once per worker."""

    def teardown(self) -> None:
        """Release what `setup` opened."""

    def run_unit(self, unit: Unit) -> Outcome:
        return self.process_batch(read_unit(unit))

    def process_batch(self, batch: pl.DataFrame) -> Outcome:
        raise NotImplementedError

    def finish(self, output: str, run_id: str) -> None:
        """Once every unit is done, before the commit, in the main process: revise the shards in `workdir`
        where a decision needs all of them (collect drops ids repeated across shards). It runs again after a
        kill, so it must be safe to repeat."""

    def output_schema(self) -> pa.Schema | None:
        """The schema of an empty output, when the stage knows it."""
        return None

    def describe(self) -> dict[str, Any]:
        return self.params.model_dump(mode="json")


def read_unit(unit: Unit) -> pl.DataFrame:
    return pl.scan_parquet(unit.path).slice(unit.offset, unit.length).collect()


class TableStage(Stage):
    """A stage that needs the whole table at once (clustering, balancing, splitting)."""

    parallel = False

    def units(self, input_parts: list[Path]) -> list[Unit]:
        return [Unit(key="00000-00000", extra={"parts": [str(p) for p in input_parts]})]

    def run_unit(self, unit: Unit) -> Outcome:
        return self.process_table(pl.scan_parquet(unit.extra["parts"]))

    def process_table(self, table: pl.LazyFrame) -> Outcome:
        raise NotImplementedError

