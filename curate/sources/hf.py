"""Hugging Face `datasets` sources: a folder saved with `save_to_disk`, or a name for `load_dataset`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.sources.base import RawRow, rejected
from curate.stage import Unit

BATCH_ROWS = 1000


def is_saved_dataset(path: Path) -> bool:
    return path.is_dir() and any((path / name).exists() for name in ("dataset_dict.json", "state.json"))


def _load(target: str, options: dict[str, Any]) -> Any:
    import datasets

    try:
        if is_saved_dataset(Path(target)):
            return datasets.load_from_disk(target)
        return datasets.load_dataset(target, name=options.get("config"), split=options.get("split"))
    except Exception as err:  # noqa: BLE001 - `datasets` raises many types (missing, corrupt, offline, builder errors)
        cause = err.__cause__ or err.__context__
        why = f"{type(err).__name__}: {err}" + (f" ({type(cause).__name__}: {cause})" if cause else "")
        hint = ("give a folder saved with save_to_disk, a local dataset folder, or a dataset name reachable "
                "from this machine (HF_HUB_OFFLINE=1 uses the local cache only)")
        if Path(target).is_dir() and not is_saved_dataset(Path(target)):
            hint = ("without --format hf, curate reads the folder's JSONL, JSON, CSV and Parquet files itself "
                    "and rejects bad rows one by one")
        raise CurateError(f"could not load dataset {target!r}: {why}", hint) from None


def _splits(target: str, options: dict[str, Any]) -> dict[str, Any]:
    import datasets

    loaded = _load(target, options)
    return dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {options.get("split") or "train": loaded}


def hf_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    return [Unit(key=f"{key}-{i:05d}", path=str(path), extra={"split": split})
            for i, split in enumerate(sorted(_splits(str(path), options)))]


def read_hf(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    """The split's rows as stored (Arrow batches: images stay bytes, not decoded PIL objects); a split whose
    data stops being readable keeps the rows before and ends with one `corrupt_file` reject."""
    import pyarrow as pa

    split = unit.extra["split"]
    dataset = _splits(unit.path, options)[split]
    index = 0
    try:
        for batch in dataset.with_format("arrow").iter(batch_size=BATCH_ROWS):
            for row in batch.to_pylist():
                yield RawRow(location=f"{split}#{index}", raw={**row, "split": split} if "split" not in row else row)
                index += 1
    except (pa.ArrowException, OSError, UnicodeDecodeError) as err:
        yield rejected(f"{split}#{index}", "corrupt_file", f"the split cannot be read past row {index:,}: {err}")
