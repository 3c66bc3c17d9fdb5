"""A table's history: walk the manifests' `inputs` upstream to the sources, oldest step first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from curate.export.scrub import scrub
from curate.store import Workspace

RECIPES_DIR = "recipes"  # under the workspace: the text of every recipe run there, by hash


@dataclass
class Step:
    table: str
    stage: str
    inputs: list[str]
    params: dict[str, Any]
    counts: dict[str, int]
    reasons: dict[str, int] = field(default_factory=dict)
    run_id: str = ""
    recipe_hash: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    curate_version: str | None = None
    stale_inputs: list[str] = field(default_factory=list)  # rebuilt after this step read them

    @property
    def is_source(self) -> bool:
        return not self.inputs


@dataclass
class RecipeInfo:
    hash: str
    name: str | None
    description: str | None
    text: str | None


def lineage(ws: Workspace, table: str) -> list[Step]:
    """Every step that made `table`, sources first; parameters scrubbed of secrets and machine paths."""
    ws.require(table)
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        manifest = ws.manifest(name) or {}
        for upstream in manifest.get("inputs") or []:
            if ws.manifest(upstream) is not None:
                visit(upstream)
        order.append(name)

    visit(table)
    runs = _runs(ws)
    steps = []
    for name in order:
        m = ws.manifest(name) or {}
        run = runs.get(m.get("run_id", ""), {})
        steps.append(Step(
            table=name, stage=m.get("stage", "?"), inputs=list(m.get("inputs") or []),
            params=scrub(m.get("params") or {}), counts={k: int(v) for k, v in (m.get("counts") or {}).items()},
            reasons=dict(m.get("reasons") or {}), run_id=m.get("run_id", ""),
            recipe_hash=m.get("recipe_hash") or run.get("recipe_hash"),
            started_at=m.get("started_at"), ended_at=m.get("ended_at"),
            curate_version=m.get("curate_version") or run.get("version"),
            stale_inputs=[i for i in m.get("inputs") or [] if _newer(ws.manifest(i), m.get("started_at"))],
        ))
    return steps


def _newer(upstream: dict[str, Any] | None, started: str | None) -> bool:
    """Was the upstream table rewritten after this step started reading it? Then the lineage is stale."""
    return bool(upstream and started and (upstream.get("ended_at") or "") > started)


def _runs(ws: Workspace) -> dict[str, dict[str, Any]]:
    """The `runs` lineage rows by run id."""
    return {row["run_id"]: row for row in ws.runs().iter_rows(named=True)}


def save_recipe(ws: Workspace, recipe_hash: str, text: str) -> None:
    """Keep the text of a recipe beside its runs, so cards and reports can name it later."""
    path = ws.root / RECIPES_DIR / f"{recipe_hash}.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def recipes_of(ws: Workspace, steps: list[Step]) -> list[RecipeInfo]:
    found = []
    for digest in dict.fromkeys(s.recipe_hash for s in steps if s.recipe_hash):
        path = ws.root / RECIPES_DIR / f"{digest}.yaml"
        text = path.read_text() if path.exists() else None
        data = _yaml(text)
        found.append(RecipeInfo(hash=digest, name=data.get("name"), description=data.get("description"),
                                text=yaml.safe_dump(scrub(data), sort_keys=False) if data else None))
    return found


def _yaml(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}
