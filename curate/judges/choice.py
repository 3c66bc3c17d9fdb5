"""Which judge scores a sample: one choice shared by `curate judge` (the judge stage's parameters) and the
`aesthetic` training reward, so that a policy is trained on the judge its data was curated with."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from curate.errors import CurateError
from curate.judges.prompts import FIELDS, Prompt, load_prompt
from curate.llm import LLMConfig
from curate.stage import Params


class JudgeChoice(Params):
    judge: Literal["builtin", "llm"] = Field("builtin", description="builtin (offline, deterministic) or llm.")
    llm: LLMConfig | None = Field(None, description="The endpoint of the LLM/VLM judge (judge: llm, "
                                                    "interactive: llm).")
    interactive: Literal["off", "builtin", "llm"] = Field("off", description="Explore pages by acting on them.")
    interactions: int = Field(5, ge=1, le=20, description="Interactions per page (AesCoder: 5; 3 in training).")
    # one prompt file per judge (default: curate/judges/prompt_files/<name>.txt)
    prompt_page: Path | None = Field(None, description="Prompt of the page judge (OpenDesign judge_single).")
    prompt_plot_task: Path | None = Field(None, description="Prompt of the plot task judge (PandasPlotBench).")
    prompt_plot_visual: Path | None = Field(None, description="Prompt of the plot visual judge (PandasPlotBench).")
    prompt_explore_plan: Path | None = Field(None, description="Planning turn of the LLM explorer.")
    prompt_explore_act: Path | None = Field(None, description="Acting turns of the LLM explorer.")
    prompt_explore_game: Path | None = Field(None, description="Added to the acting turns on game pages.")

    @field_validator("interactive", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        return "off" if value is False else value  # YAML reads a bare `off` as false

    @model_validator(mode="after")
    def _needs_endpoint(self) -> JudgeChoice:
        if (self.judge == "llm" or self.interactive == "llm") and self.llm is None:
            raise ValueError("judge: llm (or interactive: llm) needs llm: {model: ..., base_url: ...}")
        return self

    def prompt(self, name: str) -> Prompt:
        return load_prompt(name, getattr(self, "prompt_" + name.replace("-", "_")))

    def prompt_digests(self) -> dict[str, str]:
        """What the prompts say (their files can change under the same path)."""
        return {name: self.prompt(name).digest for name in FIELDS}

    @property
    def name(self) -> str:
        return f"llm:{self.llm.model}" if self.judge == "llm" and self.llm else "builtin"

    @classmethod
    def from_file(cls, path: Path) -> JudgeChoice:
        """The judge stage's keys (judge, llm, interactive, interactions, prompt_*) from a YAML file;
        relative prompt paths are relative to that file."""
        try:
            data = yaml.safe_load(Path(path).read_text()) or {}
            choice = cls.model_validate({k: v for k, v in data.items() if k in cls.model_fields})
        except (OSError, yaml.YAMLError, ValidationError) as err:
            raise CurateError(f"cannot read the judge choice {path}: {str(err).splitlines()[0]}",
                              "a YAML file with the judge stage's keys: judge, llm, interactive, interactions, "
                              "prompt_page, ...") from None
        updates = {k: Path(path).parent / v for k, v in choice.model_dump().items()
                   if k.startswith("prompt_") and v is not None and not Path(v).is_absolute()}
        return choice.model_copy(update=updates)
