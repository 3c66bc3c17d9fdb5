"""Recipes: a YAML file listing sources and stages, validated before anything runs.

```yaml
name: demo
sources:                       # each one is a `curate collect`
  - as: raw
    paths: [samples/demo.jsonl]  # relative to the recipe file
    kind: text
stages:                        # each one reads a table and writes a new one
  - stage: filter
    input: raw
    as: long
    where: "length(text) > 40"  # the stage's own parameters, inline
exports:                       # each one is a `curate export`; `out` is relative to the workspace
  - table: long
    format: hf
    type: messages
report:                        # a `curate report` (or a list); by default the last table's, to
  table: long                  # WORKSPACE/reports/NAME.html; `report: false` for none
```

An unknown key anywhere is an error that names the key, its line and the closest known key.
"""

from __future__ import annotations

import hashlib
import re
import types
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from curate.errors import CurateError, closest, unknown
from curate.export import ExportOptions, ExportResult, ExportType, Mapping, export_table
from curate.export.lineage import save_recipe
from curate.records import KINDS
from curate.runner import RunSummary, run_stage
from curate.sources import FORMATS, detect
from curate.stage import Stage
from curate.stages import all_stages, get_stage
from curate.stages.collect import Collect, CollectParams
from curate.store import Workspace
from curate.store.workspace import check_table_name


class SourceStep(CollectParams):
    as_: str = Field(alias="as", description="Table to write.")


class StageStep(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)
    stage: str
    input: str | list[str] = Field(description="Table (or tables) the stage reads.")
    as_: str = Field(alias="as", description="Table to write.")

    @property
    def inputs(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else self.input

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class ExportStep(BaseModel):
    """The options of `curate export`; `out` is relative to the workspace (default exports/TABLE)."""

    model_config = ConfigDict(extra="forbid")
    table: str
    format: Literal["parquet", "jsonl", "hf"] = "hf"
    out: str | None = None
    type: ExportType = ExportType.raw
    columns: list[str] | None = None
    prompt: str | None = None
    completion: str | None = None
    label: str | None = None
    keep: list[str] = Field(default_factory=list)
    chat: bool = True
    max_shard_mb: float = Field(500, gt=0)
    license: str = "other"
    name: str | None = None
    embed_images: bool = True

    def options(self) -> ExportOptions:
        mapping = Mapping(type=self.type, columns=self.columns, prompt=self.prompt, completion=self.completion,
                          label=self.label, keep=self.keep, chat=self.chat)
        return ExportOptions(format=self.format, mapping=mapping, max_shard_mb=self.max_shard_mb,
                             license=self.license, pretty_name=self.name, embed_images=self.embed_images)


class ReportStep(BaseModel):
    """A `curate report`; `out` is relative to the workspace (default reports/RECIPE.html)."""

    model_config = ConfigDict(extra="forbid")
    table: str | None = Field(None, description="Default: the recipe's last table.")
    out: str | None = None


class Recipe(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    description: str | None = None
    sources: list[SourceStep] = Field(default_factory=list)
    stages: list[StageStep] = Field(default_factory=list)
    exports: list[ExportStep] = Field(default_factory=list)
    report: list[ReportStep] | None = Field(None, description="A report, a list of them, or false for none.")

    base_dir: Path = Field(Path("."), exclude=True)
    hash: str = Field("", exclude=True)
    text: str = Field("", exclude=True)

    @field_validator("report", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is False:
            return []
        return [value] if isinstance(value, dict) else value

    @property
    def last_table(self) -> str | None:
        steps = [s.as_ for s in self.sources] + [s.as_ for s in self.stages]
        return steps[-1] if steps else None

    def reports(self) -> list[ReportStep]:
        if self.report is not None:
            return self.report
        return [ReportStep()] if self.last_table else []


def load_recipe(path: Path, tables: Iterable[str] = ()) -> Recipe:
    """The recipe at `path`, checked whole before anything runs: its keys and each stage's parameters, the
    tables each step reads (in `tables`, the workspace's, or written by an earlier step), the files it
    names, the names of the tables it writes. Every problem is reported at once, with its line."""
    text = path.read_text()
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise CurateError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise CurateError(f"{path}: a recipe is a YAML mapping with name, sources and stages")
    base = path.parent.resolve()
    problems: list[Problem] = []
    recipe = None
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as err:
        problems += _problems(err, Recipe)
    problems += check_stages(data, base)
    problems += check_sources(data, base)
    problems += check_tables(data, set(tables))
    if problems:
        raise _report(path, root, problems)
    assert recipe is not None
    recipe.base_dir = base
    recipe.hash = hashlib.sha256(text.encode()).hexdigest()[:12]
    recipe.text = text
    return recipe


@dataclass
class Problem:
    """One thing wrong in a recipe: where (its key path), what, and how to fix it."""

    where: tuple[str | int, ...]
    message: str
    hint: str | None = None


def _steps(data: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    """The steps under `key`, or under a misspelling of it (reported as an unknown key: its steps are still
    checked, and the tables they write still count, so one typo does not hide or cause other errors)."""
    fields = [f.alias or name for name, f in Recipe.model_fields.items()]
    items = data.get(key, next((v for k, v in data.items() if k not in fields and closest(k, fields) == key), None))
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def check_stages(data: dict[str, Any], base: Path) -> list[Problem]:
    """Each stage step's name, its parameters (its own pydantic model) and the files they name."""
    problems = []
    for index, step in _steps(data, "stages"):
        name = step.get("stage")
        if not isinstance(name, str):
            continue  # the recipe's own model reports it
        stage_class = all_stages().get(name)
        if stage_class is None:
            guess = closest(name, all_stages())
            problems.append(Problem(("stages", index, "stage"), f"unknown stage {name!r}",
                                    f"did you mean {guess!r}?" if guess else f"stages: {', '.join(all_stages())}"))
            continue
        params = {k: v for k, v in step.items() if k not in ("stage", "input", "as")}
        try:
            stage = stage_class(_resolve_paths(stage_class.Params.model_validate(params), base))
        except ValidationError as err:
            problems += _problems(err, stage_class.Params, ("stages", index))
            continue
        except CurateError as err:
            problems.append(Problem(("stages", index, "stage"), err.message, err.hint))
            continue
        for field, path in _paths(stage.params):
            if not path.exists():
                problems.append(Problem(("stages", index, field), f"no such file or folder: {path}",
                                        "paths in a recipe are relative to the recipe file"))
    return problems


def _paths(params: BaseModel) -> Iterator[tuple[str, Path]]:
    """The Path-typed parameters' values: files and folders a stage reads."""
    for name, field in type(params).model_fields.items():
        if _mentions_path(field.annotation):
            value = getattr(params, name)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Path):
                    yield name, item


def check_sources(data: dict[str, Any], base: Path) -> list[Problem]:
    """Each source's format and kind, and the files it names (paths, and option values that name files)."""
    problems = []
    for index, step in _steps(data, "sources"):
        where = ("sources", index)
        fmt = step.get("format", "auto")
        if isinstance(fmt, str) and fmt != "auto" and fmt not in FORMATS:
            problems.append(_unknown(where + ("format",), "format", fmt, ["auto", *FORMATS]))
        kind = step.get("kind")
        if isinstance(kind, str) and kind not in KINDS:
            problems.append(_unknown(where + ("kind",), "record kind", kind, KINDS))
        paths = step.get("paths")
        for number, text in enumerate(paths if isinstance(paths, list) else []):
            if isinstance(text, str) and _missing_source(text, base, fmt):
                problems.append(Problem(where + ("paths", number), f"no such file or folder: {base / text}",
                                        "paths in a recipe are relative to the recipe file"))
        options = step.get("options")
        for key, value in (options.items() if isinstance(options, dict) else []):
            if isinstance(value, str) and _names_local_file(value, base) and not (base / value).exists():
                problems.append(Problem(where + ("options", key), f"no such file or folder: {base / value}",
                                        "paths in a recipe are relative to the recipe file"))
    return problems


def _missing_source(text: str, base: Path, fmt: Any) -> bool:
    """A source path that does not exist, unless it may be a Hugging Face dataset name."""
    path = base / text
    if path.exists():
        return False
    if fmt == "hf" or (fmt == "auto" and detect(path) == "hf"):
        return _names_local_file(text, base)
    return True


FILE_SUFFIXES = {".json", ".jsonl", ".ndjson", ".csv", ".parquet", ".pq", ".yaml", ".yml", ".txt", ".gz", ".zst"}


def _names_local_file(text: str, base: Path) -> bool:
    """Whether a string is meant as a local path: it has a file suffix, or it starts with a folder that is
    there beside the recipe (`data/missing.json`; `org/model` names on the Hub are not)."""
    path = Path(text)
    return (path.suffix.lower() in FILE_SUFFIXES or path.is_absolute()
            or (len(path.parts) > 1 and (base / path.parts[0]).is_dir()))


def check_tables(data: dict[str, Any], existing: set[str]) -> list[Problem]:
    """Every table a step reads exists or is written by an earlier step; written names are legal and new."""
    problems: list[Problem] = []
    written: dict[str, tuple[str | int, ...]] = {}
    later = {step["as"]: ("stages", i) for i, step in _steps(data, "stages") if isinstance(step.get("as"), str)}

    def read(name: Any, where: tuple[str | int, ...]) -> None:
        if not isinstance(name, str) or name in written or name in existing:
            return
        if name in later:
            problems.append(Problem(where, f"table {name!r} is written by a later step", "steps run in order: "
                                    "move the step that writes it before this one"))
        else:
            problems.append(_unknown(where, "table", name, [*written, *existing]))

    def write(name: Any, where: tuple[str | int, ...]) -> None:
        if not isinstance(name, str):
            return
        try:
            check_table_name(name)
        except CurateError as err:
            problems.append(Problem(where, err.message, err.hint))
        if name in written:
            problems.append(Problem(where, f"table {name!r} is written twice",
                                    "give each step its own `as` name"))
        written[name] = where

    for index, step in _steps(data, "sources"):
        write(step.get("as"), ("sources", index, "as"))
    for index, step in _steps(data, "stages"):
        inputs = step.get("input")
        for number, name in enumerate(inputs if isinstance(inputs, list) else [inputs]):
            read(name, ("stages", index, "input") + ((number,) if isinstance(inputs, list) else ()))
        if step.get("as") in ([inputs] if isinstance(inputs, str) else inputs or []):
            problems.append(Problem(("stages", index, "as"), f"the step reads and writes table {step['as']!r}",
                                    "write a new table: tables are never changed in place"))
        else:
            write(step.get("as"), ("stages", index, "as"))
    for index, step in _steps(data, "exports"):
        read(step.get("table"), ("exports", index, "table"))
    report = data.get("report")
    for index, step in enumerate([report] if isinstance(report, dict) else report if isinstance(report, list) else []):
        if isinstance(step, dict):
            read(step.get("table"), ("report",) + ((index,) if isinstance(report, list) else ()) + ("table",))
    return problems


def _unknown(where: tuple[str | int, ...], what: str, name: str, choices: Iterable[str]) -> Problem:
    error = unknown(what, name, choices)
    return Problem(where, error.message, error.hint)


def _problems(err: ValidationError, model: type[BaseModel], prefix: tuple = ()) -> list[Problem]:
    problems, guessed = [], set()
    for error in (e for e in err.errors() if e["type"] == "extra_forbidden"):
        loc = prefix + tuple(error["loc"])
        known = _known_keys(model, error["loc"][:-1])
        guess = closest(str(loc[-1]), known)
        guessed.add(loc[:-1] + (guess,))
        problems.append(Problem(loc, f"unknown key {loc[-1]!r}", f"did you mean {guess!r}?" if guess
                                else f"known keys here: {', '.join(sorted(known))}"))
    for error in (e for e in err.errors() if e["type"] != "extra_forbidden"):
        loc = prefix + tuple(error["loc"])
        if not (error["type"] == "missing" and loc in guessed):  # the typo above is why it is missing
            problems.append(Problem(loc, error["msg"]))
    return problems


def _report(path: Path, root: yaml.Node, problems: list[Problem]) -> CurateError:
    """One error for all the problems, by line."""
    by_line: dict[int, list[Problem]] = {}
    for problem in problems:
        by_line.setdefault(_line(root, problem.where), []).append(problem)
    lines = []
    for line, found in sorted(by_line.items()):
        # an unknown key usually explains an error next to it (a typo): it comes first
        found.sort(key=lambda p: not p.message.startswith("unknown key"))
        said = dict.fromkeys(p.message if p.message.startswith("unknown key") else  # the key says where
                             f"{'.'.join(str(part) for part in p.where)}: {p.message}" for p in found)
        lines.append((f"{path}:{line}: " + "; ".join(said), found[0].hint))
    if len(lines) == 1:
        return CurateError(*lines[0])
    listed = "\n  ".join(text + (f" ({hint})" if hint else "") for text, hint in lines)
    return CurateError(f"{path}: {len(lines)} problems, nothing was run:\n  {listed}", "fix them and run it again")


def _known_keys(model: type[BaseModel], loc: tuple) -> list[str]:
    """The keys allowed at `loc` inside `model`, following nested models and lists of them."""
    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        field = current.model_fields.get(part) if isinstance(current, type) and issubclass(current, BaseModel) else None
        if field is None:
            return []
        current = _inner_model(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items() if not f.exclude]
    return []


def _inner_model(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, types.UnionType, typing.Union):
        for arg in typing.get_args(annotation):
            if (found := _inner_model(arg)) is not None:
                return found
    return None


def _line(node: yaml.Node | None, loc: tuple) -> int:
    """The 1-based line of the key or item at `loc` in a composed YAML document."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(part, int) and isinstance(node, yaml.MappingNode):
            continue  # a single mapping given where a list is allowed (`report:`)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line, node = key.start_mark.line + 1, value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line


def _resolve_paths(params: BaseModel, base: Path) -> BaseModel:
    """Path-typed parameters are relative to the recipe file."""
    def resolve(value: Any) -> Any:
        if isinstance(value, Path) and not value.is_absolute():
            return base / value
        return [resolve(v) for v in value] if isinstance(value, list) else value

    return params.model_copy(update={name: resolve(getattr(params, name))
                                     for name, field in type(params).model_fields.items()
                                     if _mentions_path(field.annotation)})


def _mentions_path(annotation: Any) -> bool:
    return annotation is Path or any(_mentions_path(a) for a in typing.get_args(annotation))


def build_stage(step: StageStep, base: Path) -> Stage:
    stage_class = get_stage(step.stage)
    return stage_class(_resolve_paths(stage_class.Params.model_validate(step.params), base))


def run_recipe(recipe: Recipe, ws: Workspace, *, force: bool = False) -> Iterator[RunSummary]:
    """Run the recipe's sources and stages; `finish_recipe` then writes its exports and reports."""
    with ws.writer():
        if recipe.text:
            save_recipe(ws, recipe.hash, recipe.text)
        for source in recipe.sources:
            params = CollectParams(**source.model_dump(exclude={"as_"}))
            params.paths = [str(recipe.base_dir / p) if (recipe.base_dir / p).exists() else p for p in params.paths]
            # option values naming files beside the recipe (a labels report, a tokenizer) resolve like paths
            params.options = {k: str(recipe.base_dir / v) if isinstance(v, str) and v and (recipe.base_dir / v).exists()
                              else v for k, v in params.options.items()}
            yield run_stage(ws, Collect(params), [], source.as_, force=force, recipe_hash=recipe.hash)
        for step in recipe.stages:
            yield run_stage(ws, build_stage(step, recipe.base_dir), step.inputs, step.as_, force=force,
                            recipe_hash=recipe.hash)


def finish_recipe(recipe: Recipe, ws: Workspace) -> Iterator[ExportResult | Path]:
    """Write the recipe's exports, then its reports (by default one on its last table)."""
    from curate.report import write_report  # matplotlib: only when a report is written

    with ws.writer():
        for step in recipe.exports:
            yield export_table(ws, step.table, ws.root / (step.out or f"exports/{step.table}"), step.options())
        reports = recipe.reports()
        for step in reports:
            table = step.table or recipe.last_table
            if table is None:
                continue
            default = _slug(recipe.name) + (f"-{table}" if len(reports) > 1 else "")
            yield write_report(ws, table, ws.root / (step.out or f"reports/{default}.html"))


def _slug(name: str) -> str:
    return re.sub(r"[^\w.\-]+", "-", name).strip("-") or "recipe"
