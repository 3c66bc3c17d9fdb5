"""Check the trajectory adapters on real, externally written runs: `python bench/swe_samples.py DIR [DIR ...]`.

Each DIR is a run (or a folder of runs, one per subfolder) in a format `curate collect` reads; the format
and the label reports are found from the files: mini-swe-agent (`trajs/*.traj.json`, `reports/`),
SWE-agent (`*.traj` with JSON reports beside them), AutoCodeRover (instance folders with
`conversation_round_N.json`, the run's `report.json`), ATIF (`*trajectory.json`, Harbor trials'
`result.json`), SWE-Gym rows (`*.parquet` / `*.jsonl`). Every run is collected into a scratch workspace with
each report it carries, under both `--unlisted` rules, and the script prints rows in / kept / rejected
(by reason), the labels joined (resolved / not), their sources, the rows flagged `leaks_test_results`,
and, where the run carries a ground truth (`labels.json`, or a report listing both resolved and
unresolved ids), whether the joined labels agree with it. Nothing is written outside the scratch folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def detect(run: Path) -> tuple[str, Path, list[Path | None]] | None:
    """(format, path to collect, label reports to try) of a run folder; None when it is not one."""
    if (run / "trajs").is_dir() and any((run / "trajs").glob("*.traj.json")):
        return "mini-swe-agent", run / "trajs", [run / "reports"] if (run / "reports").is_dir() else [None]
    if any(run.glob("*.traj")):
        return "swe-agent", run, sorted(run.glob("*.json")) or [None]
    if any(run.glob("conversation_round_*.json")) or (run / "report.json").is_file() and any(run.rglob("conversation_round_*.json")):
        return "autocoderover", run, [None]  # its report.json is found by the adapter
    if any(run.glob("*.atif.json")) or any(run.glob("*/agent/trajectory.json")) or any(run.glob("*trajectory.json")):
        return "atif", run, [None, *sorted(p for p in run.glob("*.json") if p.name != "result.json"
                                           and not p.name.endswith((".atif.json", "trajectory.json")))]
    if any(run.glob("*.parquet")) or any(run.glob("*.jsonl")) or any(run.glob("data/*.parquet")):
        return "swe-gym", run, [None]
    return None


def truth_of(run: Path) -> dict[str, bool]:
    """Labels the run states outright: labels.json, or a report with both resolved and unresolved lists."""
    listed = json.loads((run / "labels.json").read_text()) if (run / "labels.json").is_file() else None
    if isinstance(listed, list):
        return {r["instance_id"]: bool(r["resolved"]) for r in listed}
    for report in sorted(run.glob("*.json")):
        data = json.loads(report.read_text())
        if isinstance(data, dict) and isinstance(data.get("resolved"), list) and isinstance(data.get("unresolved"), list):
            return {**{i: False for i in data["unresolved"]}, **{i: True for i in data["resolved"]}}
    return {}


def check(run: Path, scratch: Path) -> list[dict]:
    from curate.runner import run_stage
    from curate.stages.collect import Collect, CollectParams
    from curate.store import Workspace

    found = detect(run)
    if found is None:
        return []
    fmt, path, reports = found
    truth = truth_of(run)
    lines = []
    for report in reports:
        for unlisted in ("reject", "unresolved"):
            if report is None and unlisted == "unresolved" and fmt != "autocoderover":
                continue  # the rule needs a report
            ws = Workspace(scratch / f"ws-{len(list(scratch.iterdir()))}")
            options = {"unlisted": unlisted, **({"labels": str(report)} if report else {})}
            summary = run_stage(ws, Collect(CollectParams(paths=[str(path)], format=fmt, options=options)), [], "t")
            table = ws.read("t")
            labels = dict(zip(table["instance_id"], table["resolved"], strict=True)) if table.height else {}
            sources = Counter(s.split(":", 1)[-1] for s in table["label_source"]) if table.height else Counter()
            compared = {i: v for i, v in labels.items() if i in truth}
            lines.append({
                "run": str(run), "format": fmt, "report": report.name if report else "(own)", "unlisted": unlisted,
                "in": summary.n_in, "kept": summary.kept, "rejected": dict(summary.reasons),
                "resolved": int(table["resolved"].sum()) if table.height else 0,
                "not_resolved": int((~table["resolved"]).sum()) if table.height else 0,
                "label_sources": dict(sources),
                "leaks_test_results": int(table["leaks_test_results"].sum()) if table.height else 0,
                "agree_with_truth": f"{sum(truth[i] == v for i, v in compared.items())}/{len(compared)}"
                if truth else "no ground truth"})
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dirs", nargs="+", type=Path, help="runs, or folders of runs")
    parser.add_argument("--json", type=Path, help="also write the lines to this file")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="swe-samples-"))
    lines = []
    try:
        for folder in args.dirs:
            runs = [folder] if detect(folder) else sorted(p for p in folder.iterdir() if p.is_dir())
            for run in runs:
                lines += check(run, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for line in lines:
        print(f"{Path(line['run']).name:18s} {line['format']:15s} report={line['report']:28s} "
              f"unlisted={line['unlisted']:10s} in={line['in']:3d} kept={line['kept']:3d} "
              f"resolved={line['resolved']:3d} not={line['not_resolved']:3d} rejected={line['rejected']} "
              f"leaks={line['leaks_test_results']} sources={line['label_sources']} truth={line['agree_with_truth']}")
    if args.json:
        args.json.write_text(json.dumps(lines, indent=2) + "\n")


if __name__ == "__main__":
    main()
