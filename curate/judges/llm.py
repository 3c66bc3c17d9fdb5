"""The LLM/VLM judge: the judges' prompts (`curate.judges.prompts`) sent with the rendered images through
`curate.llm`.

Pages get OpenDesign's `judge_single` rubric with the full-page screenshot and answer JSON with
`alignment_score`, `aesthetics_score`, `structure_score`, `total_score` and `feedback`. The judge's own
`total_score` is kept; when it is not the sum of the parts, the disagreement is recorded as a finding
(`total-mismatch`) instead of being overwritten. Plots get PandasPlotBench's judges: a task score against
the instruction with every image of the sample, and, with a reference image, a visual score with the
generated image first and the reference second (colours are not compared); both are read the way
PandasPlotBench reads them (`parse_plot_score`). A plot's total is the mean of the scores it got.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from curate.judges.base import Finding, Sample, Verdict, available
from curate.judges.choice import JudgeChoice
from curate.llm import ParseError, Request, Result, image_part, number_in, parse_json_object

PAGE_KEYS = ("alignment_score", "aesthetics_score", "structure_score", "total_score")
PARTS = (("alignment", 40.0), ("aesthetics", 30.0), ("structure", 30.0))
FINAL_SCORE_RE = re.compile(r".*\[FINAL SCORE]:? ?(\d+)", re.S)  # PandasPlotBench's own pattern (the last one)


def parse_page(text: str) -> dict[str, Any]:
    value = parse_json_object(text, PAGE_KEYS)
    parts = {name: number_in(value, f"{name}_score", 0, top) for name, top in PARTS}
    return {**parts, "total": number_in(value, "total_score", 0, 100),
            "feedback": str(value.get("feedback", ""))[:2000]}


def parse_plot_score(text: str) -> float:
    """PandasPlotBench's parser: the whole answer when it is a number, else the number of the last
    `[FINAL SCORE]: N`; 0–100."""
    try:
        score = float(text.strip())
    except ValueError:
        match = FINAL_SCORE_RE.match(text)
        if not match:
            raise ParseError("expected a bare number or a `[FINAL SCORE]: N` line") from None
        score = float(match.group(1))
    if not 0 <= score <= 100:
        raise ParseError(f"score {score:g} is outside 0–100")
    return score


def requests_for(sample: Sample, choice: JudgeChoice) -> list[Request]:
    """The requests that judge one sample (empty when there is nothing to show)."""
    if sample.is_page:
        shot = available(sample.screenshot_full) or available(sample.screenshot)
        if shot is None:
            return []
        return [Request("opendesign-page", choice.prompt("page").messages([image_part(shot)],
                                                                          instruction=sample.instruction),
                        parse=parse_page, image_hashes=sample.image_hashes)]
    images = [image for image in sample.images if available(image) is not None]
    if not images:
        return []
    requests = [Request("pandasplotbench-task", choice.prompt("plot-task").messages(
        [image_part(i) for i in images], instruction=sample.instruction),
        parse=parse_plot_score, image_hashes=sample.image_hashes)]
    if available(sample.reference_image) is not None:
        requests.append(Request("pandasplotbench-visual", choice.prompt("plot-visual").messages(
            [image_part(images[0]), image_part(sample.reference_image)], instruction=sample.instruction),
            parse=parse_plot_score, image_hashes=(*sample.image_hashes[:1], sample.reference_image.stem)))
    return requests


def verdict_from(sample: Sample, results: list[Result]) -> Verdict:
    failed = [r.error for r in results if not r.ok]
    if not results:
        return Verdict.failed("nothing to judge: no screenshot" if sample.is_page else "nothing to judge: no figure")
    if failed:
        return Verdict.failed(failed[0] or "judge failed")
    if sample.is_page:
        v = results[0].value
        findings = [Finding(d, "llm-rubric", round(top - v[d], 2), f"{d} {v[d]:g}/{top:g}") for d, top in PARTS]
        parts = sum(v[d] for d, _ in PARTS)
        if abs(v["total"] - parts) > 0.5:  # kept as the judge gave it; the disagreement is on record
            findings.append(Finding("total", "total-mismatch", 0, f"total_score {v['total']:g} is not the sum of "
                                                                  f"the parts ({parts:g})"))
        return Verdict(v["alignment"], v["aesthetics"], v["structure"], v["total"], v["feedback"], findings)
    task = results[0].value
    visual = results[1].value if len(results) > 1 else None
    scores = [task] + ([visual] if visual is not None else [])
    feedback = " | ".join((r.text or "").strip().splitlines()[0][:300] for r in results if r.text and r.text.strip())
    findings = [Finding("task", "pandasplotbench-task", round(100 - task, 2), f"task score {task:g}/100")]
    if visual is not None:
        findings.append(Finding("visual", "pandasplotbench-visual", round(100 - visual, 2), f"visual score {visual:g}/100"))
    return Verdict(total=round(sum(scores) / len(scores), 2), feedback=feedback, findings=findings,
                   extra={"score_task": task, "score_visual": visual})


def judge_all(samples: list[Sample], run: Callable[[list[Request]], list[Result]],
              choice: JudgeChoice) -> list[tuple[Verdict, list[Result]]]:
    """Judge many samples with one concurrent batch of requests (`run` is `LLMClient.run`)."""
    per_sample = [requests_for(s, choice) for s in samples]
    flat = [r for rs in per_sample for r in rs]
    results = run(flat) if flat else []
    out, i = [], 0
    for sample, requests in zip(samples, per_sample, strict=True):
        mine = results[i:i + len(requests)]
        i += len(requests)
        out.append((verdict_from(sample, mine), mine))
    return out
