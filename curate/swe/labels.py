"""Resolved labels from evaluation reports, by instance id, and the rule that gave each one.

A report is a file, or a folder of them (read recursively), of any of these shapes:
- **id lists** (SWE-bench harness summaries, AutoCodeRover's `report.json`, classic SWE-agent submissions'
  `final_report.json`):
  - `resolved`, `resolved_ids`, and `resolved_per_project` (a dict of such lists) → resolved;
  - `unresolved`, `unresolved_ids`, `error_ids` (the evaluation errored: the harness counts it as not
    resolved), `empty_patch_ids` (an empty patch resolves nothing), and AutoCodeRover's `no_generation`,
    `no_apply`, `test_errored`, `test_timeout` → not resolved;
  - `completed_ids`, `generated`, `with_logs`, `applied` (runs that were evaluated) → not resolved unless
    a resolved list names them too;
  - `incomplete_ids`, `install_fail`, `reset_failed`, `no_logs` (never evaluated) → no label
    (`not_evaluated`);
  - anything else (`stats`, counts, `submitted_ids`) says nothing about one instance.
- **per-instance results**: `{instance_id: {"resolved": bool, ...}}` (SWE-bench's report.json), or one
  instance's result in `<instance_id>.report.json` (or `<instance_id>/report.json`);
- per-instance **test results** without a verdict: resolved when every `FAIL_TO_PASS` test passes (at
  least one) and no `PASS_TO_PASS` test fails;
- a **list** (JSON array or JSONL) of `{"instance_id": ..., "resolved": ...}`.

An id in two lists that exclude one another (resolved and not resolved, errored and empty patch, ...; the
synonyms `resolved` / `resolved_ids` / `resolved_per_project` count as one), or two files that disagree, is
a `label_conflict`: its trajectories are rejected, never guessed.

An instance the report does not mention at all is **unlisted**. What that means is the user's call
(`--unlisted`): `reject` (the default: no label) or `unresolved` (reports that list resolved ids only,
such as older SWE-bench submissions: "not listed" means "not resolved").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curate.errors import CurateError

TRUE_WORDS = {"true", "yes", "1", "resolved", "pass", "passed"}
FALSE_WORDS = {"false", "no", "0", "unresolved", "fail", "failed"}
POSITIVE_LISTS = ("resolved", "resolved_ids")
NEGATIVE_LISTS = ("unresolved", "unresolved_ids", "error_ids", "empty_patch_ids", "no_generation", "no_apply",
                  "test_errored", "test_timeout")
EVALUATED_LISTS = ("completed_ids", "generated", "with_logs", "applied")
UNEVALUATED_LISTS = ("incomplete_ids", "install_fail", "reset_failed", "no_logs")
PER_PROJECT = "resolved_per_project"
UNLISTED_RULES = ("reject", "unresolved")
UNLISTED_HINT = "--unlisted unresolved"  # named in no_label messages; `curate.swe.notes` counts them


@dataclass(frozen=True)
class Label:
    resolved: bool | None
    source: str  # the rule that gave it: "file:list", "file:FAIL_TO_PASS", "file:unlisted", ...
    problem: str | None = None  # "label_conflict" or "not_evaluated": the trajectory is rejected with it


@dataclass(frozen=True)
class Report:
    name: str
    labels: dict[str, Label]

    def label(self, instance: str, unlisted: str = "reject") -> Label | None:
        """The instance's label; an unlisted one is not resolved under `unlisted="unresolved"`."""
        found = self.labels.get(instance)
        if found is None and unlisted == "unresolved":
            return Label(False, f"{self.name}:unlisted")
        return found


# per process, by path and modification time (of the file, or of the folder: files edited in place inside
# a folder are seen by the next command, which runs in a fresh process)
_CACHE: dict[tuple[str, int], Report] = {}


def unlisted_rule(options: dict[str, Any]) -> str:
    rule = str(options.get("unlisted") or "reject")
    if rule not in UNLISTED_RULES:
        raise CurateError(f"bad --unlisted {rule!r}",
                          "unresolved (an instance the report does not list was not resolved) or reject")
    return rule


def coerce_label(value: Any) -> bool | None:
    """A label value as a bool; None when it is not a recognisable label."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
    return None


def load_labels(path: str | Path) -> Report:
    """Labels by instance id from a report file or folder (read once per process)."""
    path = Path(path)
    if not path.exists():
        raise CurateError(f"no such labels report: {path}", "give a harness report (file or folder) to --labels")
    key = (str(path.resolve()), path.stat().st_mtime_ns)
    if key not in _CACHE:
        files = sorted(p for p in path.rglob("*") if p.suffix in (".json", ".jsonl")) if path.is_dir() else [path]
        labels: dict[str, Label] = {}
        for file in files:
            for instance, label in _read(file).items():
                labels[instance] = _merge(labels.get(instance), label)
        _CACHE[key] = Report(path.name, labels)
    return _CACHE[key]


def _merge(old: Label | None, new: Label) -> Label:
    """Two files on one instance: a verdict beats "not evaluated"; two different verdicts conflict."""
    if old is None or old.problem == "not_evaluated":
        return new
    if new.problem == "not_evaluated" or (old.problem is None and new.problem is None and old.resolved == new.resolved):
        return old
    return Label(None, f"{old.source} vs {new.source}", "label_conflict")


def _read(file: Path) -> dict[str, Label]:
    text = file.read_text(encoding="utf-8")
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError:
        try:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as err:
            raise CurateError(f"labels report {file} is not JSON or JSONL: {err.msg} at line {err.lineno}",
                              "fix or remove the file; every trajectory of an unreadable report would be "
                              "unlabelled") from None
    name = file.name
    if isinstance(data, list):
        return {str(r["instance_id"]): Label(coerce_label(r.get("resolved")), f"{name}:list")
                for r in data if isinstance(r, dict) and "instance_id" in r and coerce_label(r.get("resolved")) is not None}
    if not isinstance(data, dict):
        return {}
    if any(_ids(data.get(k)) is not None for k in (*POSITIVE_LISTS, *NEGATIVE_LISTS, *EVALUATED_LISTS,
                                                   *UNEVALUATED_LISTS, PER_PROJECT)):
        return _read_lists(data, name)
    single = _verdict(data)
    if single is not None:  # one instance's result: the id is in the file (or folder) name
        instance = data.get("instance_id") or (file.parent.name if name == "report.json" else
                                               name.removesuffix(".json").removesuffix(".report"))
        return {str(instance): Label(single[0], f"{name}:{single[1]}")}
    labels = {}
    for instance, result in data.items():
        verdict = _verdict(result) if isinstance(result, dict) else None
        if verdict is not None:
            labels[str(instance)] = Label(verdict[0], f"{name}:{verdict[1]}")
    return labels


def _ids(value: Any) -> list[str] | None:
    """A list of instance ids, or None when the value is something else (a count, a dict)."""
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value]
    return None


def _read_lists(data: dict[str, Any], name: str) -> dict[str, Label]:
    positive = _lists(data, POSITIVE_LISTS)
    per_project = data.get(PER_PROJECT)
    for project in per_project.values() if isinstance(per_project, dict) else []:
        positive.update((i, [PER_PROJECT]) for i in _ids(project) or [] if i not in positive)
    # the status lists exclude one another (a run resolved, not resolved, errored, ... once): two is a conflict
    status = _lists(data, NEGATIVE_LISTS + UNEVALUATED_LISTS)
    labels = {i: Label(False, f"{name}:{keys[0]}, not in resolved") for i, keys in _lists(data, EVALUATED_LISTS).items()}
    for instance, keys in status.items():
        labels[instance] = (Label(None, f"{name}:{keys[0]}", "not_evaluated") if keys[0] in UNEVALUATED_LISTS
                            else Label(False, f"{name}:{keys[0]}"))
    for instance, keys in positive.items():
        labels[instance] = Label(True, f"{name}:{keys[0]}")
    for instance in positive.keys() | status.keys():
        lists = positive.get(instance, [])[:1] + status.get(instance, [])
        if len(lists) > 1:
            labels[instance] = Label(None, f"{name}: in {' and in '.join(lists)}", "label_conflict")
    return labels


def _lists(data: dict[str, Any], keys: tuple[str, ...]) -> dict[str, list[str]]:
    """Instance id → the lists among `keys` that name it, in the order of `keys`."""
    found: dict[str, list[str]] = {}
    for key in keys:
        for instance in dict.fromkeys(_ids(data.get(key)) or []):
            found.setdefault(instance, []).append(key)
    return found


def _verdict(result: dict[str, Any]) -> tuple[bool, str] | None:
    resolved = coerce_label(result.get("resolved"))
    if resolved is not None:
        return resolved, "resolved"
    tests = result.get("tests_status", result)
    f2p = tests.get("FAIL_TO_PASS") if isinstance(tests, dict) else None
    if isinstance(f2p, dict) and ("success" in f2p or "failure" in f2p):
        p2p = tests.get("PASS_TO_PASS") or {}
        ok = bool(f2p.get("success")) and not f2p.get("failure") and not p2p.get("failure")
        return ok, "FAIL_TO_PASS"
    return None
