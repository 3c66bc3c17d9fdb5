"""Record kinds: the pydantic models every row of a typed table follows.

Each row has a stable `id` (a hash of its canonical content, so the same content collected twice gets the
same id) and a `source`. Fields a source carries beyond its kind's are kept, as JSON, in `meta`.
`schemas/*.schema.json` are generated from these models (`python -m curate.schemas`).
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from typing import Any, ClassVar, Literal

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from curate.errors import unknown


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: ClassVar[str]

    id: str = Field("", description="Stable hash of the record's canonical content.")
    source: str = Field("", description="Where the record came from (file, dataset or corpus name).")
    meta: str | None = Field(None, description="Fields of the source beyond this kind's, as a JSON object.")

    def content_id(self) -> str:
        content = self.model_dump(mode="json", exclude={"id", "source", "meta"})
        return content_hash({"kind": self.kind, **content})


def content_hash(value: Any) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class Text(Record):
    """A generic text record."""

    kind: ClassVar[str] = "text"
    text: str


class DataFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="File name inside the sample's sandbox, e.g. `data.csv`.")
    content: str


class Code(Record):
    """A code-aesthetics sample (AesCode): an instruction and the visual code written for it."""

    kind: ClassVar[str] = "code"
    instruction: str
    code: str = Field(description="The code, or a model answer holding it in a fenced block.")
    language: Literal["python", "html"]
    category: str | None = Field(None, description="Plot type or OpenDesign category (Website, Game Dev, ...).")
    data_files: list[DataFile] = Field(default_factory=list, description="Files the code reads.")


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: str
    content: str


class Trajectory(Record):
    """An agent trajectory on a SWE task with its resolved label (SWE-RM)."""

    kind: ClassVar[str] = "trajectory"
    instance_id: str
    repo: str | None = None
    policy: str | None = Field(None, description="The agent's model.")
    messages: list[Message]
    patch: str | None = Field(None, description="The final submitted patch.")
    finished: bool = Field(description="Did the run submit a patch.")
    resolved: bool | None = Field(None, description="Did the patch make the FAIL_TO_PASS tests pass.")
    label_source: str | None = Field(None, description="The rule that gave the label, e.g. report.json:resolved.")
    leaks_test_results: bool | None = Field(
        None, description="The trajectory holds test-evaluation outcomes (a validation run leaks its label); "
                          "None where the format is not checked.")
    n_tokens: int | None = None


class Question(Record):
    """An exam question with its points (RLEV); `value` and `scale` are added by `curate value`."""

    kind: ClassVar[str] = "question"
    question: str
    answer: str
    points: float = Field(gt=0, description="Points the question is worth in its exam.")
    exam_id: str | None = None
    exam_total: float | None = Field(None, gt=0)
    difficulty: str | None = None
    subject: str | None = None
    year: int | None = None
    question_type: str | None = Field(None, description="single_choice, multi_choice, blank or open.")


KINDS: dict[str, type[Record]] = {m.kind: m for m in (Text, Code, Trajectory, Question)}


def kind_model(name: str) -> type[Record]:
    if name not in KINDS:
        raise unknown("record kind", name, KINDS)
    return KINDS[name]


def build(model: type[Record], raw: dict[str, Any], source: str) -> Record:
    """Validate a raw row as `model`; fields it does not know go to `meta`."""
    known = set(model.model_fields)
    extra = {k: v for k, v in raw.items() if k not in known}
    fields = {k: v for k, v in raw.items() if k in known}
    if extra:
        fields["meta"] = json.dumps(extra, ensure_ascii=False, sort_keys=True, default=str)
    fields.setdefault("source", source)
    record = model.model_validate(fields)
    record.id = record.id or record.content_id()
    return record


def arrow_schema(model: type[BaseModel]) -> pa.Schema:
    """The Arrow schema of a model, so every shard of a typed table has the same one."""
    return pa.schema([pa.field(name, _arrow_type(f.annotation)) for name, f in model.model_fields.items()])


def _arrow_type(annotation: Any) -> pa.DataType:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        (inner,) = [a for a in typing.get_args(annotation) if a is not type(None)]
        return _arrow_type(inner)
    if origin is list:
        return pa.list_(_arrow_type(typing.get_args(annotation)[0]))
    if origin is Literal:
        return pa.string()
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return pa.struct([pa.field(n, _arrow_type(f.annotation)) for n, f in annotation.model_fields.items()])
    return {str: pa.string(), int: pa.int64(), float: pa.float64(), bool: pa.bool_()}[annotation]
