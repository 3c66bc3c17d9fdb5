"""Benchmark: collecting real-sized agent trajectories into a labelled table, with token counting on.

The corpus replicates real, untrimmed mini-swe-agent trajectories (by default the three published ones in
`tests/fixtures/swe/mini-swe-agent-full`, 115-260 KB each; `--samples DIR` replicates another folder of
`trajs/*.traj.json` with `reports/*.report.json`), each copy a new instance id written as the original
is (same layout, same size), its label in one harness report. Side by side, each in a fresh process:

- `curate collect --format mini-swe-agent --labels … -o tokenizer=…` (2 workers): parse, validate, join
  labels, count the log's tokens with a BPE tokenizer (trained here on the samples with `tokenizers`),
  write Parquet;
- the same without token counting, to show what counting costs;
- a plain loop (the peer a user would write by hand): `json.load` each file, the same tokenizer's
  `encode_batch` over its messages, labels from the report; no validation, no Parquet.

Reported, side by side on 2,000 trajectories (`--compare`): trajectories per second, MB of JSON per
second, CPU seconds (all processes: on a busy machine wall time stretches, CPU time much less) and peak
resident memory of the largest process. Then curate with token counting alone at 1,000 and 10,000
trajectories (`--small`, `-n`): its peak memory must stay flat in the number of trajectories (work goes
in shards of 64 files; nothing grows with the corpus), and its throughput at 10,000. Figures go to
bench/results/swe.json. `--quick`: 100 / 300 / 600 trajectories.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "swe" / "mini-swe-agent-full"
RESULTS = ROOT / "bench" / "results" / "swe.json"


def load_samples(folder: Path) -> list[tuple[dict, bool]]:
    labels = {p.name.removesuffix(".report.json"): json.loads(p.read_text())["resolved"]
              for p in (folder / "reports").glob("*.report.json")}
    samples = []
    for path in sorted((folder / "trajs").glob("*.traj.json")):
        data = json.loads(path.read_text())
        if data["instance_id"] in labels:
            samples.append((data, labels[data["instance_id"]]))
    if not samples:
        raise SystemExit(f"no trajs/*.traj.json with reports/*.report.json under {folder}")
    return samples


def build_corpus(folder: Path, samples: list[tuple[dict, bool]], n: int) -> tuple[Path, Path, list[int]]:
    """n trajectories (sample i % len, a new instance id each) and one report; the size of each file."""
    trajs = folder / "trajs"
    trajs.mkdir(parents=True)
    labels: dict[str, list[str]] = {"resolved": [], "unresolved": []}
    sizes = []
    for i in range(n):
        data, resolved = samples[i % len(samples)]
        instance = f"{data['instance_id']}{i:05d}"  # still owner__repo-number
        text = json.dumps({**data, "instance_id": instance}, indent=2)  # the published files' layout
        (trajs / f"{instance}.traj.json").write_text(text)
        sizes.append(len(text.encode()))
        labels["resolved" if resolved else "unresolved"].append(instance)
    report = folder / "report.json"
    report.write_text(json.dumps(labels))
    return trajs, report, sizes


def subset(folder: Path, trajs: Path, n: int) -> Path:
    """The first n files of the corpus, as hard links in a folder of their own."""
    target = folder / f"trajs-{n}"
    target.mkdir()
    for path in sorted(trajs.iterdir())[:n]:
        os.link(path, target / path.name)
    return target


def train_tokenizer(folder: Path, samples: list[tuple[dict, bool]]) -> Path:
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    texts = [m["content"] for data, _ in samples for m in data["messages"]]
    tokenizer.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=8000, special_tokens=["[UNK]"]))
    path = folder / "tokenizer.json"
    tokenizer.save(str(path))
    return path


# ----- one configuration, run in its own process ------------------------------------------------
def run_curate(trajs: Path, report: Path, tokenizer: Path | None, workspace: Path) -> dict:
    from curate.runner import run_stage
    from curate.stages.collect import Collect, CollectParams
    from curate.store import Workspace

    options = {"labels": str(report), **({"tokenizer": str(tokenizer)} if tokenizer else {})}
    params = CollectParams(paths=[str(trajs)], format="mini-swe-agent", options=options)
    summary = run_stage(Workspace(workspace), Collect(params), [], "trajectories", workers=2)
    return {"kept": summary.kept, "rejected": summary.rejected}


def run_plain(trajs: Path, report: Path, tokenizer: Path) -> dict:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer))
    labels = json.loads(report.read_text())
    known = set(labels["resolved"]) | set(labels["unresolved"])
    rows = []
    for path in sorted(trajs.glob("*.traj.json")):
        data = json.loads(path.read_text())
        texts = [f"[{m['role'].upper()}]\n{m['content']}\n[/{m['role'].upper()}]" for m in data["messages"]]
        n_tokens = sum(len(e.ids) for e in tok.encode_batch(texts, add_special_tokens=False))
        if data["instance_id"] in known:
            rows.append((data["instance_id"], n_tokens))
    return {"kept": len(rows), "rejected": 0}


def worker(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    if args.worker == "plain":
        result = run_plain(args.trajs, args.report, args.tokenizer)
    else:
        result = run_curate(args.trajs, args.report, args.tokenizer if args.worker == "curate" else None,
                            args.workspace)
    seconds = time.perf_counter() - start
    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    cpu = sum(u.ru_utime + u.ru_stime for u in usage)
    print(json.dumps({**result, "seconds": seconds, "cpu_s": cpu, "peak_rss_mb": max(u.ru_maxrss for u in usage) / 1024}))


def measure(name: str, folder: Path, trajs: Path, report: Path, tokenizer: Path, megabytes: float) -> dict:
    workspace = folder / f"ws-{name}-{trajs.name}"
    command = [sys.executable, __file__, "--worker", name, "--trajs", str(trajs), "--report", str(report),
               "--tokenizer", str(tokenizer), "--workspace", str(workspace)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{name} failed:\n{done.stderr[-3000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    n = sum(1 for _ in trajs.iterdir())
    figures.update(trajectories=n, mb=round(megabytes, 1), trajectories_per_s=n / figures["seconds"],
                   mb_per_s=megabytes / figures["seconds"], mb_per_cpu_s=megabytes / figures["cpu_s"])
    shutil.rmtree(workspace, ignore_errors=True)
    print(f"{name:16s} {n:6,d} traj  {figures['trajectories_per_s']:7.1f} traj/s  {figures['mb_per_s']:6.1f} MB/s  "
          f"{figures['mb_per_cpu_s']:6.1f} MB/cpu-s  peak {figures['peak_rss_mb']:6.0f} MB  kept {figures['kept']:,}",
          flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 / 300 / 600 trajectories")
    parser.add_argument("-n", type=int, default=10_000, help="trajectories in the corpus (memory and throughput)")
    parser.add_argument("--small", type=int, default=1_000, help="the smaller corpus of the memory comparison")
    parser.add_argument("--compare", type=int, default=2_000, help="trajectories of the side-by-side comparison")
    parser.add_argument("--samples", type=Path, default=SAMPLES, help="folder of trajs/ and reports/ to replicate")
    parser.add_argument("--worker", choices=["curate", "curate-no-count", "plain"], help=argparse.SUPPRESS)
    for name in ("trajs", "report", "tokenizer", "workspace"):
        parser.add_argument(f"--{name}", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    small, compare, n = (100, 300, 600) if args.quick else (args.small, args.compare, args.n)
    samples = load_samples(args.samples)
    load = os.getloadavg()  # what else ran on the machine: wall time stretches with it, CPU time less
    folder = Path(tempfile.mkdtemp(prefix="bench-swe-"))
    try:
        trajs, report, sizes = build_corpus(folder, samples, n)
        tokenizer = train_tokenizer(folder, samples)
        side = subset(folder, trajs, compare)
        results = {name: measure(name, folder, side, report, tokenizer, sum(sizes[:compare]) / 1e6)
                   for name in ("curate", "curate-no-count", "plain")}
        scaling = [measure("curate", folder, subset(folder, trajs, small), report, tokenizer, sum(sizes[:small]) / 1e6),
                   measure("curate", folder, trajs, report, tokenizer, sum(sizes) / 1e6)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    megabytes = sum(sizes) / 1e6
    memory = [{"trajectories": f["trajectories"], "peak_rss_mb": round(f["peak_rss_mb"], 1),
               "trajectories_per_s": round(f["trajectories_per_s"], 1), "mb_per_s": round(f["mb_per_s"], 2),
               "mb_per_cpu_s": round(f["mb_per_cpu_s"], 2)} for f in scaling]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "samples": {"folder": str(args.samples.resolve().relative_to(ROOT)) if args.samples.resolve().is_relative_to(ROOT)
                    else str(args.samples), "trajectories": len(samples),
                    "kb_each": sorted(round(len(json.dumps(d, indent=2).encode()) / 1e3) for d, _ in samples)},
        "trajectories": n, "corpus_mb": round(megabytes, 1), "mean_kb_per_trajectory": round(megabytes * 1e3 / n, 1),
        "workers": 2, "cpus": os.cpu_count(), "load_average_at_start": [round(x, 1) for x in load], "quick": args.quick,
        "side_by_side": results, "curate_with_token_counting": memory,
        "peak_memory_ratio": round(memory[1]["peak_rss_mb"] / memory[0]["peak_rss_mb"], 2),
        "note": f"peak memory flat in the number of trajectories: {memory[0]['peak_rss_mb']:.0f} MB at "
                f"{small:,}, {memory[1]['peak_rss_mb']:.0f} MB at {n:,}",
    }, indent=2) + "\n")
    print(f"peak memory: {memory}; wrote {RESULTS}")


if __name__ == "__main__":
    main()
