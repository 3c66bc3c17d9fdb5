"""Agent trajectory formats for `curate collect`: all normalise into the `trajectory` record kind.

- `swe-agent`: SWE-agent `.traj` files (`history` of role/content messages, or `trajectory` steps of
  thought / action / observation; `info.exit_status` and `info.submission`, the patch);
- `mini-swe-agent`: mini-swe-agent `.traj.json` files (`messages`, `info.exit_status`, `info.submission`,
  `info.config.model.model_name`);
- `openhands`: OpenHands event logs (a JSON list of actions and observations, one file per trajectory) or
  an evaluation `output.jsonl` (one row per instance with `history`, `test_result.git_patch`,
  `metadata.llm_config.model`);
- `rows`: one trajectory per JSONL / Parquet row: `instance_id`, `model` (or `policy`), `messages` (or
  `text`), `patch`, and a label (`resolved` or `label`).

A path may be a file or a folder (read recursively for the format's files, 64 files per shard). Options
(`-o key=value`): `labels` (a report, also `--labels`; see `curate.swe.labels`), `unlisted` (`reject` or
`unresolved`: the label of an instance the report does not list, also `--unlisted`), `policy` (the model,
for files that do not name it), `tokenizer` (fill `n_tokens`: a path, a name, or `estimate`), with
`template` and `count` (`log` or `chat`) as the `tokens` stage has them. A trajectory with no label in its
row or the report is rejected (`no_label`), never guessed; unreadable or incomplete files are rejected
with the reason (`malformed_json`, `missing_field`, `label_conflict`, `not_evaluated`). Each row's
`label_source` names the rule that labelled it.

Other formats live beside this module: `autocoderover`, `atif` (Harbor), `swe-gym` (SWE-Gym's rows).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from curate.errors import CurateError
from curate.sources import files, register
from curate.sources.base import RawRow, SourceFormat, rejected
from curate.stage import Unit
from curate.swe.context import count
from curate.swe.labels import UNLISTED_HINT, coerce_label, load_labels, unlisted_rule
from curate.swe.prompt import DEFAULT_TEMPLATE, load_template
from curate.tokens import load_counter

FILES_PER_UNIT = 64
INSTANCE_RE = re.compile(r"^(?P<owner>.+?)__(?P<name>.+)-\d+$")
SKIPPED_EVENTS = {"agent_state_changed", "change_agent_state", "null"}


class Broken(Exception):
    """A trajectory that cannot be normalised; `reason` is the reject code."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason


# ----- units: files of a folder, in shards ------------------------------------------------------
def folder_units(*suffixes: str) -> Callable[[Path, str, dict[str, Any]], list[Unit]]:
    def units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
        check_options(options)
        if not path.is_dir():
            return [Unit(key=f"{key}-00000", path=str(path), extra={"files": [""]})]
        found = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.name.endswith(suffixes))
        if not found:
            raise CurateError(f"no {' or '.join(suffixes)} files under {path}",
                              "check the folder and --format")
        return [Unit(key=f"{key}-{i:05d}", path=str(path), extra={"files": found[start:start + FILES_PER_UNIT]})
                for i, start in enumerate(range(0, len(found), FILES_PER_UNIT))]
    return units


Parse = Callable[[Any, Path], dict[str, Any]]  # (the JSON of a file or row, the file it came from) → a row


def read_files(parse: Parse) -> Callable[[Unit, dict[str, Any]], Iterator[RawRow]]:
    """A reader for one-trajectory-per-file formats: parse each file's JSON with `parse`."""
    def read(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
        for name in unit.extra.get("files", [""]):
            path = Path(unit.path) / name if name else Path(unit.path)
            location = name or path.name
            data, failure = files.load_json_file(path, location)
            if failure:
                yield failure
                continue
            yield finish(lambda d=data, p=path: parse(d, p), location, options)
    return read


def read_rows(parse: Parse) -> Callable[[Unit, dict[str, Any]], Iterator[RawRow]]:
    """A reader for row-per-trajectory files (JSONL or Parquet)."""
    def read(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
        reader = files.read_parquet if unit.path.endswith((".parquet", ".pq")) else files.read_jsonl
        for item in reader(unit, options):
            if item.reject is not None:
                yield item
            else:
                yield finish(lambda r=item.raw: parse(r, Path(unit.path)), item.location, options)
    return read


# ----- the common tail: label, repo, policy, tokens --------------------------------------------
def check_options(options: dict[str, Any]) -> None:
    """Fail before any work on options that cannot work (run in the main process, by `units`)."""
    unlisted_rule(options)
    if options.get("labels"):
        load_labels(str(options["labels"]))
    if options.get("count") not in (None, "log", "chat"):
        raise CurateError(f"bad count option {options['count']!r}", "log (the interaction log) or chat (the whole chat)")
    load_template(str(options.get("template") or DEFAULT_TEMPLATE))


def finish(parse: Callable[[], dict[str, Any]], location: str, options: dict[str, Any]) -> RawRow:
    try:
        row = parse()
        _label(row, options)
    except Broken as err:
        return rejected(location, err.reason, str(err))
    except (KeyError, TypeError, AttributeError, ValueError) as err:  # a field of the wrong shape
        return rejected(location, "missing_field", f"unexpected structure: {type(err).__name__}: {err}")
    row["repo"] = row.get("repo") or repo_of(row["instance_id"])
    row["policy"] = row.get("policy") or options.get("policy")
    if options.get("tokenizer"):
        template = load_template(str(options.get("template") or DEFAULT_TEMPLATE))
        row["n_tokens"] = count(load_counter(str(options["tokenizer"])), template, row["messages"], row.get("patch"),
                                options.get("count") or "log")
    return RawRow(location=location, raw=row)


def _label(row: dict[str, Any], options: dict[str, Any]) -> None:
    """The report's label wins over the row's own; an instance the report does not list keeps the row's
    label, or follows the `unlisted` rule."""
    instance = row["instance_id"]
    if options.get("labels"):
        report = load_labels(str(options["labels"]))
        found = report.label(instance)
        if found is None and row.get("resolved") is None:
            found = report.label(instance, unlisted_rule(options))
        if found is not None and found.problem:
            raise Broken(found.problem, f"{instance}: {found.source}")
        if found is not None:
            row["resolved"], row["label_source"] = found.resolved, found.source
        elif row.get("resolved") is None:
            raise Broken("no_label", f"no resolved label for {instance}: not listed in report {report.name}; "
                                     f"{UNLISTED_HINT} would label it not resolved")
    if row.get("resolved") is None:
        raise Broken("no_label", f"no resolved label for {instance} in the row, and no --labels report")


def repo_of(instance_id: str) -> str | None:
    """`django__django-11099` → `django/django` (the SWE-bench naming); None when the id has another shape."""
    match = INSTANCE_RE.match(instance_id)
    return f"{match['owner']}/{match['name']}" if match else None


def message(item: Any) -> dict[str, str]:
    """A chat message as role + text: content parts joined, tool calls written out as SWE-Gym's verifier
    shows them (`### Tool Call N` then `<function=name>` with one `<parameter=key>` per argument)."""
    if not isinstance(item, dict) or "role" not in item:
        raise Broken("missing_field", "a message without a role")
    content = item.get("content")
    if isinstance(content, list):
        content = "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    text = "" if content is None else str(content)
    calls = item.get("tool_calls") or []
    if calls:
        text += "\n" + "\n".join(f"### Tool Call {i}\n{tool_call_text(call)}" for i, call in enumerate(calls))
    return {"role": str(item["role"]), "content": text}


def tool_call_text(call: Any) -> str:
    """One tool call (OpenAI's `function: {name, arguments}` or ATIF's `function_name`, `arguments`)."""
    if not isinstance(call, dict):
        return str(call)
    function = call.get("function") if isinstance(call.get("function"), dict) else {}
    name = function.get("name") or call.get("function_name") or call.get("name") or "?"
    arguments = function.get("arguments", call.get("arguments"))
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except json.JSONDecodeError:
            return f"<function={name}>\n{arguments}\n</function>"
    if not isinstance(arguments, dict):
        return f"<function={name}>\n{json.dumps(arguments, ensure_ascii=False)}\n</function>"
    text = f"<function={name}>\n"
    for key, value in arguments.items():  # str(value), as SWE-Gym writes them; only strings span lines
        multiline = isinstance(value, str) and "\n" in value
        text += f"<parameter={key}>\n{value}\n</parameter>\n" if multiline else f"<parameter={key}>{value}</parameter>\n"
    return text + "</function>"


def require(data: Any, *path: str) -> Any:
    value = data
    for key in path:
        if not isinstance(value, dict) or key not in value:
            raise Broken("missing_field", f"no {'.'.join(path)}")
        value = value[key]
    return value


def instance_from_name(name: str) -> str:
    return re.sub(r"(\.traj\.json|\.traj|\.jsonl|\.json)$", "", name)


# ----- SWE-agent --------------------------------------------------------------------------------
def parse_swe_agent(data: Any, source: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Broken("missing_field", "a .traj file is a JSON object with trajectory, history and info")
    status = require(data, "info", "exit_status")
    if "history" in data:  # demonstrations (`is_demo`) are worked examples of other issues: not this run
        messages = [message(m) for m in data["history"] if not (isinstance(m, dict) and m.get("is_demo"))]
    else:
        steps = require(data, "trajectory")
        messages = []
        for step in steps:
            messages.append({"role": "assistant", "content": f"{step.get('thought', '')}\n\n{step['action']}".strip()})
            messages.append({"role": "user", "content": str(step.get("observation", ""))})
    if not messages:
        raise Broken("missing_field", "empty history")
    return {"instance_id": str(data.get("instance_id") or instance_from_name(source.name)), "messages": messages,
            "patch": data["info"].get("submission") or None, "finished": str(status).strip().lower() == "submitted",
            "policy": _swe_agent_model(data), "exit_status": str(status)}


def _swe_agent_model(data: dict[str, Any]) -> str | None:
    config = data.get("replay_config")  # SWE-agent 1.x keeps its run config, as a JSON string
    if isinstance(config, str):
        try:
            config = json.loads(config)
        except json.JSONDecodeError:
            return None
    model = (config or {}).get("agent", {}).get("model", {}) if isinstance(config, dict) else {}
    return model.get("name") or model.get("model_name") if isinstance(model, dict) else None


# ----- mini-swe-agent ---------------------------------------------------------------------------
def parse_mini(data: Any, source: Path) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise Broken("missing_field", "a mini-swe-agent trajectory is a JSON object with info and messages")
    status = require(data, "info", "exit_status")
    messages = [message(m) for m in require(data, "messages")]
    if not messages:
        raise Broken("missing_field", "empty messages")
    model = data["info"].get("config", {}).get("model", {}).get("model_name")
    return {"instance_id": str(data.get("instance_id") or instance_from_name(source.name)), "messages": messages,
            "patch": data["info"].get("submission") or None, "finished": str(status).strip().lower() == "submitted",
            "policy": model.lstrip("@") if model else None, "exit_status": str(status)}


# ----- OpenHands --------------------------------------------------------------------------------
def parse_openhands(data: Any, source: Path) -> dict[str, Any]:
    """An event list (one file per trajectory) or an evaluation row (`history`, `test_result`, `metadata`)."""
    row = data if isinstance(data, dict) else {"history": data}
    events = require(row, "history")
    if not isinstance(events, list) or not events:
        raise Broken("missing_field", "history is not a non-empty list of events")
    if all(isinstance(e, list) for e in events):  # older OpenHands: [action, observation] pairs
        events = [e for pair in events for e in pair if isinstance(e, dict) and e]
    messages, finished = [], False
    for event in events:
        kind = event.get("action") or event.get("observation")
        if kind is None:
            raise Broken("missing_field", f"event {event.get('id')} is neither an action nor an observation")
        finished |= kind == "finish" or event.get("extras", {}).get("agent_state") == "finished"
        if kind not in SKIPPED_EVENTS:
            messages.append(_event_message(event, kind))
    instance = row.get("instance_id") or instance_from_name(source.name)
    test_result = row.get("test_result") if isinstance(row.get("test_result"), dict) else {}
    patch = test_result.get("git_patch") or row.get("git_patch") or None
    model = (row.get("metadata") or {}).get("llm_config", {}).get("model")
    return {"instance_id": str(instance), "messages": messages, "patch": patch, "finished": finished,
            "policy": model, **({"error": row["error"]} if row.get("error") else {})}


def _event_message(event: dict[str, Any], kind: str) -> dict[str, str]:
    if "observation" in event:
        return {"role": "tool", "content": str(event.get("content", ""))}
    args = event.get("args") or {}
    if kind in ("system", "message"):
        role = "system" if kind == "system" else ("user" if event.get("source") == "user" else "assistant")
        return {"role": role, "content": str(args.get("content") or event.get("message", ""))}
    thought = args.get("thought") or ""
    body = next((args[k] for k in ("command", "code", "content", "final_thought", "url") if args.get(k)), None)
    if body is None:
        body = json.dumps({k: v for k, v in args.items() if k != "thought"}, ensure_ascii=False, sort_keys=True)
    target = f" {args['path']}" if args.get("path") else ""
    return {"role": "assistant", "content": f"{thought}\n\n[{kind}{target}]\n{body}".strip()}


# ----- one row per trajectory -------------------------------------------------------------------
def parse_row(raw: dict[str, Any], source: Path) -> dict[str, Any]:
    row = dict(raw)
    if not row.get("instance_id"):
        raise Broken("missing_field", "no instance_id")
    if row.get("messages") is not None:
        messages = row.pop("messages")
        if isinstance(messages, str):
            messages = json.loads(messages)
        row["messages"] = [message(m) for m in messages]
    elif row.get("text"):
        row["messages"] = [{"role": "log", "content": str(row.pop("text"))}]
    else:
        raise Broken("missing_field", "neither messages nor text")
    for alias in ("model", "model_name"):
        if alias in row and not row.get("policy"):
            row["policy"] = row.pop(alias)
    for alias in ("model_patch", "submission", "git_patch"):
        if alias in row and not row.get("patch"):
            row["patch"] = row.pop(alias)
    label = row.pop("label", None)
    row["resolved"] = coerce_label(row["resolved"] if row.get("resolved") is not None else label)
    if row.get("finished") is None:  # no exit status: a run that submitted left a patch
        status = row.get("exit_status")
        row["finished"] = str(status).strip().lower() == "submitted" if status else bool(row.get("patch"))
    if row.get("resolved") is not None:
        row.setdefault("label_source", "row")
    return row


register(SourceFormat("swe-agent", read_files(parse_swe_agent), folder_units(".traj"), kind="trajectory",
                      help="SWE-agent .traj files (a file or a folder)"))
register(SourceFormat("mini-swe-agent", read_files(parse_mini), folder_units(".traj.json"), kind="trajectory",
                      help="mini-swe-agent .traj.json files (a file or a folder)"))


def _openhands_units(path: Path, key: str, options: dict[str, Any]) -> list[Unit]:
    check_options(options)
    if path.is_file() and path.name.endswith(".jsonl"):
        return [Unit(key=u.key, path=u.path, offset=u.offset, length=u.length, extra={**u.extra, "rows": True})
                for u in files.jsonl_units(path, key, options)]
    return folder_units(".json")(path, key, options)


def _read_openhands(unit: Unit, options: dict[str, Any]) -> Iterator[RawRow]:
    reader = read_rows(parse_openhands) if unit.extra.get("rows") else read_files(parse_openhands)
    yield from reader(unit, options)


register(SourceFormat("openhands", _read_openhands, _openhands_units, kind="trajectory",
                      help="OpenHands event logs (.json per trajectory) or an evaluation output.jsonl"))
