"""Every stage `curate run` knows, by name: each module of this package defines some. Found on first use,
so that importing one stage does not import them all (a command starts in a fraction of the time)."""

from __future__ import annotations

import functools
import importlib
import pkgutil

from curate.errors import unknown
from curate.stage import Stage, TableStage


@functools.cache
def all_stages() -> dict[str, type[Stage]]:
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    found: dict[str, type[Stage]] = {}
    pending = list(Stage.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if cls is not TableStage and "name" in cls.__dict__:
            found[cls.name] = cls
    return dict(sorted(found.items()))


def get_stage(name: str) -> type[Stage]:
    stages = all_stages()
    if name not in stages:
        raise unknown("stage", name, stages)
    return stages[name]
