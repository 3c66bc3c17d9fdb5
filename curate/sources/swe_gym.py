"""SWE-Gym's published OpenHands trajectory rows (`--format swe-gym`): Parquet or JSONL files (or a folder
of them, as a Hugging Face dataset repository lays them out), one trajectory per row with `messages` and
`resolved`, as in SWE-Gym/OpenHands-Sampled-Trajectories and the verifier sets built from them.

- messages: the OpenHands chat (content as text or text parts; tool calls written out as SWE-Gym's
  verifier shows them). A row already in the verifier layout (a judge system prompt, the run inside
  `=== INTERACTION LOG ===`, maybe the `<judgement>` answer) is unwrapped back into the run's messages,
  so that formatting it again gives the same log;
- label: `resolved`, else the row's `<judgement>YES</judgement>` / `NO` answer (`label_source`
  `row:judgement`); a `--labels` report wins over both;
- instance id: `instance_id`, else `issue-<hash>` of the first user message (the same issue gives the same
  instance, which is what RM@k and the splits group by);
- policy: `model` (or `policy`); patch: `git_patch` (or `patch`, `model_patch`); the rest goes to `meta`.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.sources import register
from curate.sources.base import SourceFormat
from curate.sources.files import jsonl_units, parquet_units
from curate.sources.trajectories import Broken, check_options, message, parse_row, read_rows
from curate.stage import Unit
from curate.swe.prompt import parse_log

JUDGEMENT = re.compile(r"^\s*<judgement>\s*(YES|NO)\s*</judgement>\s*$")
SUFFIXES = (".parquet", ".jsonl", ".jsonl.gz", ".jsonl.zst")


def parse_swe_gym(raw: dict[str, Any], source: Path) -> dict[str, Any]:
    row = dict(raw)
    messages = row.get("messages")
    if isinstance(messages, str):
        messages = json.loads(messages)
    if not isinstance(messages, list) or not messages:
        raise Broken("missing_field", "no messages")
    messages = [message(m) for m in messages]
    answer = JUDGEMENT.match(messages[-1]["content"]) if messages[-1]["role"] == "assistant" else None
    logs = (parse_log(m["content"]) for m in messages if m["role"] == "user")
    unwrapped = next((found for found in logs if found is not None and found[0]), None)
    if unwrapped is not None:
        messages, patch = unwrapped
        if patch and not row.get("patch"):
            row["patch"] = patch
        row["verifier_layout"] = True
    if row.get("resolved") is None and answer is not None:
        row["resolved"], row["label_source"] = answer[1] == "YES", "row:judgement"
    row["messages"] = messages
    if not row.get("instance_id"):
        issue = next((m["content"] for m in messages if m["role"] == "user"), "")
        row["instance_id"] = "issue-" + hashlib.sha256(issue.encode()).hexdigest()[:12]
    return parse_row(row, source)


def units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    check_options(options)
    files = sorted(p for p in path.rglob("*") if p.name.endswith(SUFFIXES)) if path.is_dir() else [path]
    if not files:
        raise CurateError(f"no .parquet or .jsonl files under {path}", "check the folder and --format")
    found = []
    for i, file in enumerate(files):
        cut = parquet_units if file.name.endswith(".parquet") else jsonl_units
        found += [Unit(key=f"{key}-{i:03d}-{u.key.rsplit('-', 1)[-1]}", path=u.path, offset=u.offset,
                       length=u.length, extra=u.extra) for u in cut(file, key, options)]
    return found


register(SourceFormat("swe-gym", read_rows(parse_swe_gym), units, kind="trajectory",
                      help="SWE-Gym's OpenHands trajectory rows (messages + resolved), raw or in verifier layout"))
