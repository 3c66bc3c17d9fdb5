"""Benchmark: RLEV on a whole real exam bank (GAOKAO-Bench layout): exams, values, and the answer check.

    python bench/rlev_bank.py PATH/TO/gaokao [--baseline /path/to/other/checkout] [--out bench/results/rlev.json]

In one run, each in a fresh process through the CLI (`curate collect --format gaokao`, then `curate value`):
- this checkout, and with `--baseline` another one (e.g. the main branch before this work): exams found,
  total sources, and the value distribution (mean v, mean s, share with v > 0.1) beside the paper's
  (0.02, ≈1.2, 1.18%);
- the answer check of this checkout on every reference of the bank, per file: the reference against
  itself, and against a reformatted copy (`bench/_reformat.py`: spacing, full width, `\\frac` vs `a/b`,
  `y=2x` vs `2x`): right / wrong / undecided; for open-ended references, the share the rules decide (split
  into maths-or-choice answers and exact-text answers, which decide only equal texts); and, as a guard
  against a lax check, each reference against the next one's in its file (should never be right).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import polars as pl  # noqa: E402

from bench._reformat import reformatted  # noqa: E402
from curate.rlev.answers import RULES, check_response, reference_check  # noqa: E402
from curate.rlev.final import reference_answers  # noqa: E402
from curate.rlev.text import is_wordy  # noqa: E402
from curate.rlev.values import PAPER  # noqa: E402


def curate(checkout: Path, workspace: Path, *args: str) -> None:
    env = {**os.environ, "PYTHONPATH": str(checkout), "CURATE_WORKERS": "1"}
    subprocess.run([sys.executable, "-m", "curate", *args, "-w", str(workspace)], env=env, check=True,
                   capture_output=True, text=True, cwd=checkout)


def values_with(checkout: Path, bank: Path) -> tuple[dict, pl.DataFrame]:
    """Collect and value the bank with `checkout`'s code; the figures and the valued table."""
    with tempfile.TemporaryDirectory() as tmp:
        workspace = Path(tmp) / "w"
        started = time.perf_counter()
        curate(checkout, workspace, "collect", str(bank), "--format", "gaokao", "--as", "bank")
        curate(checkout, workspace, "value", "bank", "--as", "valued")
        seconds = time.perf_counter() - started
        frame = pl.read_parquet(workspace / "tables" / "valued" / "*.parquet")
    figures = {"questions": frame.height, "exams": frame["exam_id"].n_unique(),
               "mean_v": round(frame["value"].mean(), 4), "mean_s": round(frame["scale"].mean(), 4),
               "share_v_above_0.1": round((frame["value"] > 0.1).mean(), 4),
               "total_source": dict(Counter(frame["total_source"].to_list())), "seconds": round(seconds, 1)}
    per_exam = frame.group_by("exam_id").agg(pl.len().alias("n"), pl.col("value").sum().alias("v"))
    figures["questions_per_exam_median"] = per_exam["n"].median()
    figures["value_sum_per_exam_median"] = round(per_exam["v"].median(), 3)
    return figures, frame


def _kind(question_type: str) -> str:
    return "objective" if question_type.endswith("choice") or question_type == "choice_slots" else question_type


def answer_checks(frame: pl.DataFrame) -> dict:
    """Self-match and reformatted-match per file; the decided share of open-ended references; cross-match."""
    per_file: dict[str, Counter] = defaultdict(Counter)
    open_forms: Counter = Counter()
    cross: dict[str, Counter] = defaultdict(Counter)
    rows = frame.select("answer", "question_type", pl.col("meta").map_elements(
        lambda m: json.loads(m)["bank"], return_dtype=pl.String).alias("bank")).to_dicts()
    started = time.perf_counter()
    for row in rows:
        answer, kind, counts = row["answer"], row["question_type"], per_file[row["bank"]]
        counts["n"] += 1
        counts[f"self_{check_response(answer, answer, kind).correct}"] += 1
        counts[f"reformatted_{check_response(reformatted(answer, kind), answer, kind).correct}"] += 1
        if kind == "open":
            if reference_check(answer, kind) == RULES:
                parts = reference_answers(answer)
                open_forms["rules, exact text only" if any(is_wordy(p) for p in parts) else "rules, maths or choice"] += 1
            else:
                open_forms["undecided"] += 1
    for this, after in zip(rows, rows[1:], strict=False):
        if this["bank"] == after["bank"] and this["answer"].strip() != after["answer"].strip():
            cross[_kind(this["question_type"])][str(check_response(after["answer"], this["answer"],
                                                                   this["question_type"]).correct)] += 1
    seconds = time.perf_counter() - started
    files = {}
    for bank, c in sorted(per_file.items()):
        files[bank] = {"n": c["n"], "self_right": c["self_True"], "self_wrong": c["self_False"],
                       "self_undecided": c["self_None"], "reformatted_right": c["reformatted_True"],
                       "reformatted_wrong": c["reformatted_False"], "reformatted_undecided": c["reformatted_None"]}
    kinds = {r["bank"]: _kind(r["question_type"]) for r in rows}
    summary = {}
    for kind in ("objective", "blank", "open"):
        chosen = [f for b, f in files.items() if kinds[b] == kind]
        n = sum(f["n"] for f in chosen)
        summary[kind] = {"files": len(chosen), "n": n,
                         "self_right": round(sum(f["self_right"] for f in chosen) / n, 4),
                         "reformatted_right": round(sum(f["reformatted_right"] for f in chosen) / n, 4),
                         "wrong_against_itself": sum(f["self_wrong"] + f["reformatted_wrong"] for f in chosen)}
    fill_in = [f for b, f in files.items() if "Fill-in-the-Blank" in b]
    summary["fill_in_the_blank_files"] = {
        "n": sum(f["n"] for f in fill_in), "self_right": sum(f["self_right"] for f in fill_in),
        "reformatted_right": sum(f["reformatted_right"] for f in fill_in)}
    n_open = sum(open_forms.values())
    summary["open_decided_by_rules"] = round((n_open - open_forms["undecided"]) / n_open, 4) if n_open else None
    summary["open_forms"] = dict(open_forms)
    summary["cross_match"] = {k: dict(v) for k, v in cross.items()}
    return {"summary": summary, "per_file": files, "seconds": round(seconds, 1), "checks": 2 * len(rows)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bank", type=Path, help="the GAOKAO-Bench folder (Objective_Questions/, Subjective_Questions/)")
    parser.add_argument("--baseline", type=Path, help="another checkout to compare with (e.g. main before this work)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "rlev.json")
    args = parser.parse_args()
    results: dict = {"bank": str(args.bank), "paper": {"mean_v": PAPER.mean_value, "mean_s": PAPER.mean_scale,
                                                         "share_v_above_0.1": PAPER.share_above}}
    if args.baseline:
        results["before"], _ = values_with(args.baseline.resolve(), args.bank.resolve())
        print("before:", json.dumps(results["before"], ensure_ascii=False))
    results["after"], frame = values_with(ROOT, args.bank.resolve())
    print("after: ", json.dumps(results["after"], ensure_ascii=False))
    results["answer_check"] = answer_checks(frame)
    print("answer check:", json.dumps(results["answer_check"]["summary"], ensure_ascii=False, indent=1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
