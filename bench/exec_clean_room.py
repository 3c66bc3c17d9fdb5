"""What the clean room costs: `curate exec` on real plotting scripts (and generated pages), this checkout
against a baseline commit, side by side in one run.

The baseline (default: `main`) runs from a temporary `git worktree`, each side in its own process with its
own code on PYTHONPATH, in alternating rounds so that both meet the same load on a shared machine. The
scripts are a gallery folder given on the command line (a `manifest.jsonl` beside a `scripts/` folder, as
in the plots sample: matplotlib, seaborn and plotly examples); those flagged as needing the network or a
dataset are left out, and each is used several times with a comment that makes it a sample of its own (so
the result cache does not answer for it). Besides samples per second, each side's CPU time (all its
processes, from a cgroup v1 `cpuacct` folder where the machine has one) is recorded: on a shared machine
it is the steadier figure. Figures go to bench/results/exec_clean_room.json.

    python bench/exec_clean_room.py PLOTS_FOLDER [--baseline main] [--scripts 120] [--pages 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

from exec_corpus import pages  # noqa: E402

from curate.sandbox import cgroups  # noqa: E402

# Run in a fresh interpreter with one checkout's code: collect the rows, then time `exec` over them.
MEASURE = """
import json, os, sys, time
from pathlib import Path
from rich.console import Console
from curate.runner import run_stage
from curate.stages.collect import Collect, CollectParams
from curate.stages.exec import Exec, ExecParams
from curate.store import Workspace
source, root, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
quiet = Console(file=open(os.devnull, "w"))
ws = Workspace(Path(root))
run_stage(ws, Collect(CollectParams(paths=[source], kind="code")), [], "rows", console=quiet)
started = time.monotonic()
summary = run_stage(ws, Exec(ExecParams()), ["rows"], "rows_exec", workers=workers, console=quiet)
seconds = time.monotonic() - started
table = ws.read("rows_exec")
print(json.dumps({"samples": summary.n_in, "seconds": round(seconds, 2), "per_s": round(summary.n_in / seconds, 2),
                  "ok": int(table["exec_ok"].sum()),
                  "errors": table.group_by("exec_error_type").len().sort("exec_error_type").rows()}))
"""


def gallery(folder: Path, n: int) -> list[dict]:
    """`n` samples cycling through the gallery's scripts that need neither the network nor a dataset."""
    manifest = [json.loads(line) for line in (folder / "manifest.jsonl").read_text().splitlines() if line.strip()]
    usable = [m for m in manifest if not m.get("flags")]
    rows = []
    for i in range(n):
        entry = usable[i % len(usable)]
        code = (folder / entry["file"]).read_text() + f"\n# bench sample {i}\n"
        rows.append({"instruction": f"{entry['family']}: {entry['path']} ({i})", "code": code,
                     "language": "python", "category": entry["family"], "data_files": []})
    return rows


def measure(checkout: Path, rows: list[dict], workers: int, tmp: Path, name: str) -> dict:
    source = tmp / f"{name}.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    parent = cgroups.own("cpuacct")
    account = parent / f"curate-bench-{os.getpid()}-{name}" if parent else None
    if account:
        account.mkdir()
    try:
        done = subprocess.run([sys.executable, "-c", MEASURE, str(source), str(tmp / name), str(workers)],
                              capture_output=True, text=True, env=env, cwd=checkout,
                              preexec_fn=(lambda: (account / "cgroup.procs").write_text("0")) if account else None)
        cpu_s = int((account / "cpuacct.usage").read_text()) / 1e9 if account else None
    finally:
        if account:
            cgroups.remove(account)  # (a browser may still be on its way out)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    run = json.loads(done.stdout.strip().splitlines()[-1])
    if cpu_s is not None:
        run.update(cpu_s=round(cpu_s, 1), cpu_s_per_sample=round(cpu_s / run["samples"], 3))
    return run


def summarise(runs: list[dict]) -> dict:
    summary = {"per_s": round(statistics.median(r["per_s"] for r in runs), 2), "runs": runs}
    if all("cpu_s_per_sample" in r for r in runs):
        summary["cpu_s_per_sample"] = round(statistics.median(r["cpu_s_per_sample"] for r in runs), 3)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("plots", type=Path, help="a gallery folder: manifest.jsonl and scripts/")
    parser.add_argument("--baseline", default="main", help="git ref to compare with (default: main)")
    parser.add_argument("--scripts", type=int, default=120)
    parser.add_argument("--pages", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "exec_clean_room.json")
    args = parser.parse_args()
    rows = {"gallery": gallery(args.plots, args.scripts), "pages": pages(args.pages)}
    with tempfile.TemporaryDirectory(prefix="curate-bench-clean-room-") as tmp_name:
        tmp = Path(tmp_name)
        baseline = tmp / "baseline"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), args.baseline],
                       check=True, capture_output=True)
        commit = subprocess.run(["git", "-C", str(baseline), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, check=True).stdout.strip()
        results: dict[str, dict[str, list[dict]]] = {kind: {"before": [], "after": []} for kind in rows}
        try:
            for round_ in range(args.rounds):
                for kind, kind_rows in rows.items():
                    for side, checkout in (("before", baseline), ("after", ROOT)):
                        run = measure(checkout, kind_rows, args.workers, tmp, f"{kind}-{side}-{round_}")
                        results[kind][side].append(run)
                        print(f"round {round_ + 1} {kind} {side}: {run['per_s']}/s", file=sys.stderr)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)],
                           capture_output=True)
    report = {"baseline": f"{args.baseline} ({commit})", "workers": args.workers, "cpus": os.cpu_count(),
              "load_avg_at_end": os.getloadavg()}
    for kind, sides in results.items():
        before, after = summarise(sides["before"]), summarise(sides["after"])
        report[kind] = {"samples": len(rows[kind]), "before": before, "after": after,
                        "after_over_before": round(after["per_s"] / before["per_s"], 3)}
        if "cpu_s_per_sample" in before and "cpu_s_per_sample" in after:
            report[kind]["cpu_after_over_before"] = round(after["cpu_s_per_sample"] / before["cpu_s_per_sample"], 3)
    report["target"] = "gallery after_over_before >= 0.8 (the clean room costs at most 20 % of throughput)"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k]["after_over_before"] for k in rows}), file=sys.stderr)
    print(f"written to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
