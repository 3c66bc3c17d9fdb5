"""ATIF trajectories (`--format atif`): Harbor's Agent Trajectory Interchange Format, one JSON object per
trajectory (`schema_version` "ATIF-v1.x", `session_id`, `agent` {name, version, model_name}, `steps`,
optional `final_metrics`, `notes`, `extra`), alone or in a Harbor job folder, where each trial folder
holds `agent/trajectory.json` and the verifier's `result.json`. In a folder, files named
`trajectory.json` (or ending `.trajectory.json`, `_trajectory.json`, `.atif.json`) are read.

- messages: a `system` step → system, `user` → user, `agent` → assistant (its `reasoning_content`, its
  `message`, then its `tool_calls` written out); each `observation.results` entry → one `tool` message;
- instance id: the trial's `result.json` `task_name` (its last path part), else `extra.instance_id` (or
  `task_id`, `task_name`), else the trial folder name less Harbor's `__<suffix>`, else the file name;
- policy: `agent.model_name`, else the first step's `model_name`, else the trial config's;
- patch: ATIF has no patch field: `extra.patch` (or `model_patch`, `git_patch`, `submission`) when the
  producer put one there, else none;
- label: `--labels` first; else the trial's `result.json`: resolved when `verifier_result.rewards.reward`
  is 1 (a partial reward is not resolved), `label_source` `result.json:reward`; no label when the verifier
  gave no reward (it did not run: `exception_info` says why);
- finished: the trial ended without an exception; without a `result.json`, the last step is the agent's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from curate.sources import register
from curate.sources.base import SourceFormat
from curate.sources.trajectories import Broken, folder_units, instance_from_name, message, read_files, require

TRIAL_SUFFIX = re.compile(r"__[A-Za-z0-9]{4,}$")  # Harbor names a trial `<task>__<short id>`
PATCH_KEYS = ("patch", "model_patch", "git_patch", "submission")
ROLES = {"system": "system", "user": "user", "agent": "assistant", "assistant": "assistant"}
TRIAL_KEYS = {"trial_name", "task_name", "verifier_result"}


def parse_atif(data: Any, path: Path) -> dict[str, Any]:
    if not isinstance(data, dict) or not str(data.get("schema_version", "")).startswith("ATIF"):
        raise Broken("missing_field", "not an ATIF trajectory: no schema_version ATIF-v1.x")
    steps = require(data, "steps")
    if not isinstance(steps, list) or not steps:
        raise Broken("missing_field", "steps is not a non-empty list")
    messages = [m for step in steps for m in _step_messages(step)]
    trial = _trial(path)
    extra = data.get("extra") if isinstance(data.get("extra"), dict) else {}
    agent = data.get("agent") if isinstance(data.get("agent"), dict) else {}
    row: dict[str, Any] = {
        "instance_id": _instance_id(trial, extra, path),
        "messages": messages,
        "patch": next((extra[k] for k in PATCH_KEYS if isinstance(extra.get(k), str) and extra[k].strip()), None),
        "policy": agent.get("model_name") or next((s.get("model_name") for s in steps if s.get("model_name")), None)
        or ((trial.get("config") or {}).get("agent") or {}).get("model_name"),
        "finished": trial.get("exception_info") is None if trial else steps[-1].get("source") == "agent",
        "session_id": data.get("session_id"), "agent": agent.get("name"), "schema_version": data["schema_version"],
    }
    if trial.get("exception_info"):
        row["exception"] = (trial["exception_info"] or {}).get("exception_type")
    reward = _reward(trial)
    if reward is not None:
        row["resolved"], row["label_source"], row["reward"] = reward >= 1.0, "result.json:reward", reward
    return row


def _step_messages(step: Any) -> list[dict[str, str]]:
    if not isinstance(step, dict) or not step.get("source"):
        raise Broken("missing_field", f"a step without a source: {str(step)[:80]}")
    text = "\n\n".join(_text(step[k]) for k in ("reasoning_content", "message") if step.get(k))
    role = ROLES.get(str(step["source"]), str(step["source"]))  # a source outside the spec keeps its name
    out = [message({"role": role, "content": text, "tool_calls": step.get("tool_calls")})]
    observation = step.get("observation") if isinstance(step.get("observation"), dict) else {}
    for result in observation.get("results") or []:
        content = result.get("content") if isinstance(result, dict) else result
        if content is None and isinstance(result, dict) and result.get("subagent_trajectory_ref"):
            content = json.dumps(result["subagent_trajectory_ref"], ensure_ascii=False)
        out.append({"role": "tool", "content": _text(content)})
    return out


def _text(value: Any) -> str:
    """A message or result as text: content parts (multimodal ATIF) joined by their text."""
    if isinstance(value, list):
        return "\n".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in value)
    return "" if value is None else str(value)


def _trial(path: Path) -> dict[str, Any]:
    """The Harbor trial result beside the trajectory (`<trial>/agent/trajectory.json`), or {}."""
    folder = path.parent.parent if path.parent.name == "agent" else path.parent
    result = folder / "result.json"
    try:
        data = json.loads(result.read_text(encoding="utf-8")) if result.is_file() and result != path else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Broken("malformed_json", f"{result} is not JSON") from None
    if not isinstance(data, dict) or not TRIAL_KEYS & set(data):  # a job's result.json sums up trials: not one
        return {}
    return {**data, "_folder": folder.name}


def _instance_id(trial: dict[str, Any], extra: dict[str, Any], path: Path) -> str:
    task = trial.get("task_name") or next((extra[k] for k in ("instance_id", "task_id", "task_name") if extra.get(k)), None)
    if task:
        return str(task).rstrip("/").rsplit("/", 1)[-1]
    if trial.get("_folder"):
        return TRIAL_SUFFIX.sub("", trial["_folder"])
    if path.name == "trajectory.json":
        return TRIAL_SUFFIX.sub("", (path.parent.parent if path.parent.name == "agent" else path.parent).name)
    return instance_from_name(path.name).removesuffix(".atif").removesuffix(".trajectory").removesuffix("_trajectory")


def _reward(trial: dict[str, Any]) -> float | None:
    """`verifier_result.rewards.reward` (or the only reward there); older Harbor: `verifier_result.reward`."""
    result = trial.get("verifier_result") or {}
    rewards = result.get("rewards") or {"reward": result.get("reward")}
    value = rewards.get("reward", next(iter(rewards.values())) if len(rewards) == 1 else None)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


register(SourceFormat("atif", read_files(parse_atif),
                      folder_units("trajectory.json", ".atif.json"), kind="trajectory",
                      help="ATIF trajectories (Harbor): a file, or a job folder of trials with result.json"))
