"""AutoCodeRover output (`--format autocoderover`): a run folder with one folder per instance, or one
instance folder.

An instance folder holds the conversation rounds (`conversation_round_N.json`), the patch-writing
conversations (`debug_agent_write_patch_N.json`: the rounds so far, then each patch attempt and the
feedback on it), raw and extracted patches (`agent_patch_raw_N`, `extracted_patch_N.diff`),
`extract_status.json`, `problem_statement.txt`, `cost.json`, tool-call records and logs. Newer versions
put each try in `output_N/` and name the chosen patch in `selected_patch.json`.

- messages: the last patch-writing conversation (the whole run as the model last saw it), else the last
  conversation round, of the try the chosen patch came from;
- patch: the one `selected_patch.json` names, else the extracted patch with the largest number (what
  AutoCodeRover hands to SWE-bench: when it validates, only the last can have passed); none when no patch
  could be extracted, and then `finished` is false;
- instance id: `meta.json`'s `task_id`, else the folder name less a trailing run timestamp;
  policy: `cost.json`'s `model`;
- labels: `--labels`, else the run's own report (ids per status: `generated`, `applied`, `resolved`, ...:
  `report.json`, `final_report.json` or `results.json`) at the top of the path given;
- `leaks_test_results`: the run validated its patches against the tests (test-suite logs, validation lines
  in `info.log`, or the model told whether its patch passed). The model saw the verdict, so the label leaks
  into the trajectory: `curate collect` warns with the count, and the column lets a filter drop them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.sources import register
from curate.sources.base import RawRow, SourceFormat
from curate.sources.trajectories import FILES_PER_UNIT, Broken, check_options, finish, message
from curate.stage import Unit

CONVERSATIONS = ("debug_agent_write_patch_*.json", "conversation_round_*.json")  # in order of preference
REPORTS = ("report.json", "final_report.json", "results.json", "results/results.json")  # the run's own, at its top
TIMESTAMP = re.compile(r"_\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$")
TRY_FOLDER = re.compile(r"^output_\d+$")
# what AutoCodeRover tells the model after running the tests on its patch, and what it logs then
VERDICT_TEXT = re.compile(r"resolves the issue\. Congratulations|did not resolve the issue")
VALIDATION_LOG = re.compile(r"\[(Run test-suite|Validation)\]")


def _number(path: Path) -> tuple[int, int]:
    """(try, attempt) of `output_T/…_N.json`: what orders conversations and patches."""
    attempt = re.search(r"_(\d+)(\.\w+)?$", path.name)
    tried = re.search(r"output_(\d+)", path.parent.name)
    return (int(tried[1]) if tried else -1, int(attempt[1]) if attempt else -1)


def instance_folders(path: Path) -> list[Path]:
    """Folders holding a conversation (directly or in an `output_N` try folder)."""
    found = {f.parent.parent if TRY_FOLDER.match(f.parent.name) else f.parent
             for pattern in CONVERSATIONS for f in path.rglob(pattern)}
    return sorted(found)


def units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    check_options(options)
    folders = instance_folders(path)
    if not folders:
        raise CurateError(f"no AutoCodeRover instance folders under {path}",
                          "an instance folder holds conversation_round_N.json files; check the path and --format")
    report = next((path / name for name in REPORTS if (path / name).is_file()), None)
    labels = str(report) if report and not options.get("labels") else None
    names = [str(f.relative_to(path)) if f != path else "" for f in folders]
    return [Unit(key=f"{key}-{i:05d}", path=str(path),
                 extra={"folders": names[start:start + FILES_PER_UNIT], "labels": labels})
            for i, start in enumerate(range(0, len(names), FILES_PER_UNIT))]


def read(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    if unit.extra.get("labels"):
        options = {**options, "labels": unit.extra["labels"]}
    for name in unit.extra["folders"]:
        folder = Path(unit.path) / name if name else Path(unit.path)
        yield finish(lambda f=folder: parse_instance(f), name or folder.name, options)


def parse_instance(folder: Path) -> dict[str, Any]:
    patch_file = _patch_file(folder)
    # the try (`output_N`) the chosen patch came from holds the conversation that wrote it
    scope = patch_file.parent if patch_file and TRY_FOLDER.match(patch_file.parent.name) else folder
    conversation = _last(scope, CONVERSATIONS)
    if conversation is None:
        raise Broken("missing_field", "no conversation_round_N.json")
    try:
        data = json.loads(conversation.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise Broken("malformed_json", f"{conversation.name}: {err}") from None
    if not isinstance(data, list) or not data:
        raise Broken("missing_field", f"{conversation.name} is not a list of messages")
    messages = [message(m) for m in data]
    text = patch_file.read_text(encoding="utf-8", errors="replace") if patch_file else ""
    patch = text if text.strip() else None
    cost = _json(scope, "cost.json")
    status = _json(scope, "extract_status.json").get("extract_status")
    evidence = _leak_evidence(folder, messages)
    return {"instance_id": _instance_id(folder), "messages": messages, "patch": patch, "finished": patch is not None,
            "policy": cost.get("model"), "leaks_test_results": bool(evidence),
            "conversation_file": str(conversation.relative_to(folder)), "extract_status": status,
            "cost_usd": cost.get("total_cost"), **({"leak_evidence": evidence} if evidence else {})}


def _last(folder: Path, patterns: tuple[str, ...]) -> Path | None:
    for pattern in patterns:
        found = sorted(folder.rglob(pattern), key=_number)
        if found:
            return found[-1]
    return None


def _patch_file(folder: Path) -> Path | None:
    chosen = _json(folder, "selected_patch.json").get("selected_patch")
    if isinstance(chosen, str) and (folder / chosen).is_file():
        return folder / chosen
    return _last(folder, ("extracted_patch_*.diff",))


def _json(folder: Path, name: str) -> dict[str, Any]:
    """A small JSON file of the instance (the newest try's copy); {} when absent or unreadable."""
    path = _last(folder, (name,))
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _instance_id(folder: Path) -> str:
    task = _json(folder, "meta.json").get("task_id")
    return str(task) if task else TIMESTAMP.sub("", folder.name)


def _leak_evidence(folder: Path, messages: list[dict[str, str]]) -> list[str]:
    """What shows the run saw test outcomes: test-suite logs, validation log lines, verdicts told to the model."""
    evidence = sorted(str(p.relative_to(folder)) for p in folder.rglob("run_test_suite*.log"))
    if any(VALIDATION_LOG.search(p.read_text(encoding="utf-8", errors="replace")) for p in folder.rglob("info.log")):
        evidence.append("info.log: validation")
    if any(m["role"] == "user" and VERDICT_TEXT.search(m["content"]) for m in messages):
        evidence.append("conversation: test verdict")
    return evidence


register(SourceFormat("autocoderover", read, units, kind="trajectory",
                      help="AutoCodeRover output: a run folder of instance folders (labels from its report.json)"))
