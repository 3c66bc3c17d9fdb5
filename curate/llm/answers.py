"""What a generated answer is worth keeping as: the AesCoder extraction rules, structured-output checks,
and the reasons an answer is filtered.

`--extract` pulls the code out of fenced blocks: `html` takes the ```html block (with ```css and ```js
blocks folded in, as `exec` runs pages), else the whole text when it is a page; `python` takes the
```python blocks (or untagged ones); `code` the first fenced block of any language; `json` the first JSON object. A
completion cut by the length limit is `truncated`, one the model declined is `refused`, an empty one
`empty`, one without the expected block `no_code_block`, and one whose JSON fails `--response-format`'s
schema `schema_mismatch`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from curate.errors import CurateError
from curate.llm.cache import CachedAnswer
from curate.llm.parse import ParseError, parse_json_object

Extract = Literal["html", "python", "json", "code"]
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
PAGE_START = re.compile(r"^\s*(<!doctype html|<html|<head|<body|<!--)", re.I)


@dataclass(frozen=True)
class Verdict:
    """The extracted value to keep, or the reason the answer is filtered."""

    value: str | None = None
    reason: str | None = None


def load_schema(path: Path) -> dict[str, Any]:
    """A JSON Schema file, checked to be one."""
    from jsonschema import Draft202012Validator, SchemaError

    try:
        schema = json.loads(path.read_text())
        Draft202012Validator.check_schema(schema)
    except FileNotFoundError:
        raise CurateError(f"no schema file {path}", "--response-format takes a JSON Schema file") from None
    except (json.JSONDecodeError, SchemaError) as err:
        raise CurateError(f"{path} is not a JSON Schema: {str(err).splitlines()[0]}") from None
    return schema


def response_format(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """The chat API's structured-output request for `schema`."""
    slug = re.sub(r"[^A-Za-z0-9_-]", "_", name)[:64] or "answer"
    return {"type": "json_schema", "json_schema": {"name": slug, "schema": schema, "strict": True}}


def extract(text: str, kind: Extract) -> str | None:
    """The code of an answer by the AesCoder rules, or None when the expected block is missing."""
    if kind == "json":
        try:
            return json.dumps(parse_json_object(text), ensure_ascii=False)
        except ParseError:
            return None
    blocks = [(tag.lower(), body) for tag, body in FENCE.findall(text)]
    if kind == "code":
        return next((body.strip() for _, body in blocks if body.strip()), None)
    if not blocks:
        return text.strip() if kind == "html" and PAGE_START.match(text) else None
    from curate.stages.exec import TAGS
    from curate.stages.exec import extract as code_of  # the fence rules `exec` runs samples by

    # an untagged block counts for Python, and for HTML when it is a page
    if not any(tag in TAGS[kind] or (not tag and (kind == "python" or PAGE_START.match(body))) for tag, body in blocks):
        return None
    return code_of(text, kind)


def judge_answer(answer: CachedAnswer, kind: Extract | None, schema: dict[str, Any] | None) -> Verdict:
    """Keep (with the extracted value) or filter (with the reason) one answer."""
    text = answer.text or ""
    if answer.refusal or answer.finish_reason == "content_filter":
        return Verdict(reason="refused")
    if answer.finish_reason == "length":
        return Verdict(reason="truncated")
    if not text.strip():
        return Verdict(reason="empty")
    value = extract(text, kind) if kind else text.strip()
    if value is None:
        return Verdict(reason="no_code_block")
    if schema is not None:
        from jsonschema import Draft202012Validator

        try:
            document = json.loads(value if kind == "json" else text)
        except json.JSONDecodeError:
            return Verdict(reason="schema_mismatch")
        if next(Draft202012Validator(schema).iter_errors(document), None) is not None:
            return Verdict(reason="schema_mismatch")
    return Verdict(value=value)
