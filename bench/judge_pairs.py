"""Does the judge prefer the original to a copy made worse? Pairwise accuracy on real plotting scripts
and real pages, per kind of degradation.

Each real script (matplotlib gallery, seaborn examples, plotly documentation) is run as it is and with one
degradation appended (bench/_degrade.py: text removed after drawing, unreadable fonts, clashing colours,
overlapping tick labels, a legend covering the data, the wrong chart kind for the instruction, a squashed
aspect, data cut off by limits); each real page is rendered as it is and broken one way (layout,
contrast, overflowing text, missing images). Everything goes through `collect`, `exec` and `judge` like
user data. A pair counts when the original scored strictly higher: a tie is a failure. A pair is left out
(and counted as such) when the degradation changed nothing on the picture (same image), or when the
original or the copy failed to run.

The instruction of a script is written from its name ("a bar chart", "a violin plot", ...), independent
of any judge, so that two judges are measured on the same pairs:

    python bench/judge_pairs.py                                     # this checkout's judge
    python bench/judge_pairs.py --compare-with /path/to/old/checkout # ... and another one's, same pairs
    python bench/judge_pairs.py --plots /data/plots/scripts --seaborn-data /data/plots/seaborn-data

Figures go to bench/results/judge_pairs.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):  # a checkout named in PYTHONPATH is the one measured
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _degrade import KIND_WORDS, PAGE_KINDS, PLOTS, degrade_page, degrade_plot, has_images  # noqa: E402

import curate  # noqa: E402
from curate.runner import run_stage  # noqa: E402
from curate.stages.collect import Collect, CollectParams  # noqa: E402
from curate.stages.exec import Exec, ExecParams  # noqa: E402
from curate.stages.judge import Judge, JudgeParams  # noqa: E402
from curate.store import Workspace  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures"
# (pattern in the script's name, the chart the instruction asks for); the first that matches
CHARTS = [
    (r"3d|surface|voxel|trisurf|wire|isosurface|volume", "a 3D plot"),
    (r"polar|radar|radial", "a polar chart"),
    (r"violin", "a violin plot"),
    (r"box", "a box plot"),
    (r"hexbin", "a hexbin plot"),
    (r"hist2d|joint_histogram|three_variable_histogram", "a 2D histogram shown as a heatmap"),
    (r"hist|distplot|random-walk", "a histogram"),
    (r"heatmap|imshow|pcolormesh|tripcolor|spreadsheet|correlations", "a heatmap"),
    (r"contour|bivariate|joint_kde", "a contour plot"),
    (r"pie|sunburst", "a pie chart"),
    (r"quiver|barbs", "a quiver plot of a vector field"),
    (r"errorbar", "a line chart with error bars"),
    (r"barh|horizontal-bar", "a horizontal bar chart"),
    (r"bar", "a bar chart"),
    (r"scatter|bubble|strip|dotplot|anscombe|regression|marginal_ticks|knn|styling", "a scatter plot"),
    (r"stackplot|filled-area|fill_between|area", "an area chart"),
    (r"ecdf", "an ECDF plot"),
    (r"stem", "a stem plot"),
    (r"stairs", "a step histogram"),
    (r"streamplot", "a streamplot of a vector field"),
    (r"eventplot", "an event plot"),
    (r"treemap|icicle", "a treemap"),
    (r"map|choropleth", "a map"),
    (r"parallel", "a parallel coordinates plot"),
    (r"errorbar|errorband|lineplot|line|plot$|timeseries|pointplot|linear-fits|hover-text|walk|facets", "a line chart"),
]


def instruction_for(name: str) -> tuple[str, str | None]:
    """(instruction, the basic chart kind it names or None) from a script's file name."""
    family, _, rest = name.partition("__")
    topic = rest.split("__")[-2] if rest.count("__") >= 1 else rest
    chart = next((phrase for pattern, phrase in CHARTS if re.search(pattern, rest.lower())), "a chart")
    label = re.sub(r"[_-]+", " ", rest.split("__")[-1] if family != "plotly" else topic).strip()
    kind = next((k for k in KIND_WORDS if re.search(rf"\b{k}\b", chart)), None)
    return f"Make {chart} of the data (after the {family} example {label}).", kind


def plot_rows(scripts: Path, seaborn_data: Path | None, limit: int | None) -> list[dict]:
    rows = []
    for path in sorted(scripts.glob("*.py"))[:limit]:
        code = path.read_text()
        files = []
        needs = sorted(set(re.findall(r"load_dataset\(\s*[\"'](\w+)[\"']", code)))
        if needs:
            if seaborn_data is None or not all((seaborn_data / f"{n}.csv").exists() for n in needs):
                continue  # its dataset is not here: seaborn would try the network
            files = [{"name": f"{n}.csv", "content": (seaborn_data / f"{n}.csv").read_text()} for n in needs]
            code = "import os\nos.environ['SEABORN_DATA'] = os.getcwd()\n" + code
        instruction, kind = instruction_for(path.stem)
        base = {"instruction": instruction, "language": "python", "data_files": files, "subject": path.stem}
        rows.append({**base, "code": code, "how": "original"})
        for how in PLOTS:
            if how == "wrong_kind" and kind is None:
                continue  # the instruction names no chart kind to get wrong
            rows.append({**base, "code": degrade_plot(code, how, kind), "how": how})
    return rows


def page_rows(folders: list[Path], limit: int | None) -> list[dict]:
    rows = []
    for path in sorted(p for folder in folders for p in folder.glob("*.html"))[:limit]:
        html = path.read_text(encoding="utf-8", errors="replace")
        found = re.search(r"<!--\s*instruction:\s*(.*?)\s*-->", html, re.S)
        base = {"instruction": found.group(1) if found else path.stem, "language": "html",
                "subject": f"{path.parent.name}/{path.stem}"}
        rows.append({**base, "code": html, "how": "original"})
        for how in PAGE_KINDS:
            if how != "missing_images" or has_images(html):
                rows.append({**base, "code": degrade_page(html, how), "how": how})
    return rows


def run(rows: list[dict], root: Path, workers: int, compare_with: Path | None) -> dict[str, list[dict]]:
    """collect → exec → judge in a workspace under `root` (exec results are cached there); with
    `compare_with`, that checkout's `curate judge` scores the same executed table too."""
    root.mkdir(parents=True, exist_ok=True)
    source = root / "pairs.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ws = Workspace(root / "ws")
    run_stage(ws, Collect(CollectParams(paths=[str(source)], kind="code")), [], "raw", force=True)
    started = time.monotonic()
    run_stage(ws, Exec(ExecParams(wall_s=60, cpu_s=60)), ["raw"], "executed", workers=workers, force=True)
    print(f"  exec {len(rows)} samples in {time.monotonic() - started:.0f} s", file=sys.stderr)
    run_stage(ws, Judge(JudgeParams()), ["executed"], "judged", workers=workers, force=True)
    judged = {"after": "judged"}
    if compare_with is not None:
        env = {**os.environ, "PYTHONPATH": str(compare_with)}
        subprocess.run([sys.executable, "-m", "curate", "judge", "executed", "--as", "judged_before", "--force",
                        "--workers", str(workers), "-w", str(ws.root)], env=env, check=True, capture_output=True,
                       cwd=compare_with)  # `-m` puts the working folder first on sys.path
        judged["before"] = "judged_before"
    return {label: [_result(row) for row in ws.read(table).iter_rows(named=True)] for label, table in judged.items()}


def _result(row: dict) -> dict:
    meta = json.loads(row["meta"]) if isinstance(row.get("meta"), str) else (row.get("meta") or {})
    shots = (row.get("screenshot_full"),) if row.get("screenshot_full") else ()
    return {"subject": meta.get("subject"), "how": meta.get("how"), "ok": row["exec_ok"],
            "images": tuple(row.get("images") or ()) + shots, "score": row["score_total"],
            "facts": [json.loads(f) for f in row.get("plot_facts") or [] if f],
            "findings": [f["rule"] for f in json.loads(row["judge_findings"] or "[]") if f.get("penalty")]}


CARTESIAN = {"bar", "histogram", "line", "scatter", "area", "box", "violin", "heatmap", "contour"}


def shows(facts: list[dict], how: str) -> bool:
    """Whether the original shows what a degradation takes away (from its plot_facts): a copy without
    text of a figure that had none is not worse."""
    mpl = [f for f in facts if f.get("library") == "matplotlib"]
    flat = [a for f in mpl for a in f.get("axes", []) if a.get("projection") == "rectilinear" and not a.get("empty")]
    plotly = [f for f in facts if f.get("library") == "plotly"]
    cartesian = any(set(f.get("kinds", [])) & CARTESIAN for f in plotly)
    if how == "text_removed":
        return any(a.get("title") or a.get("xlabel") or a.get("ylabel") or a.get("legend")
                   for f in mpl for a in f.get("axes", [])) or any(f.get("suptitle") or f.get("figure_legends")
                                                                   for f in mpl) or \
            any(f.get("title") or f.get("legend") or any(a.get("title") for a in f.get("axes", {}).values())
                for f in plotly)
    if how == "unreadable_fonts":
        return any(f.get("min_text_px") for f in facts) or cartesian
    if how == "overlapping_ticks":
        return any(a.get("ticklabels", {}).get("x") for a in flat) or cartesian
    if how in ("legend_covering", "data_cut_off", "wrong_kind"):
        return bool(flat) or cartesian
    return True


def pairs(results: list[dict]) -> dict:
    """Per kind: pairs won, lost (ties included) and left out with the reason."""
    originals = {r["subject"]: r for r in results if r["how"] == "original"}
    table: dict[str, dict] = defaultdict(lambda: {"won": 0, "lost": 0, "left_out": defaultdict(int), "losses": []})
    for r in results:
        if r["how"] == "original":
            continue
        entry, orig = table[r["how"]], originals.get(r["subject"])
        if orig is None or not orig["ok"] or not orig["images"]:
            entry["left_out"]["original failed"] += 1
        elif not r["ok"] or not r["images"]:
            entry["left_out"]["copy failed"] += 1
        elif r["images"] == orig["images"] or (orig["facts"] and not shows(orig["facts"], r["how"])):
            entry["left_out"]["no visible change"] += 1
        elif orig["score"] is not None and r["score"] is not None and orig["score"] > r["score"]:
            entry["won"] += 1
        else:
            entry["lost"] += 1
            entry["losses"].append({"subject": r["subject"], "original": orig["score"], "copy": r["score"],
                                    "copy_findings": r["findings"][:8], "original_findings": orig["findings"][:8]})
    for entry in table.values():
        n = entry["won"] + entry["lost"]
        entry["pairs"] = n
        entry["accuracy"] = round(entry["won"] / n, 4) if n else None
        entry["left_out"] = dict(entry["left_out"])
    return dict(table)


def summary(table: dict) -> dict:
    won = sum(e["won"] for e in table.values())
    n = sum(e["pairs"] for e in table.values())
    return {"pairs": n, "won": won, "accuracy": round(won / n, 4) if n else None,
            "worst_kind": min((e["accuracy"] for e in table.values() if e["accuracy"] is not None), default=None)}


def print_table(title: str, table: dict) -> None:
    print(f"\n{title}")
    print(f"{'kind':<22}{'pairs':>7}{'won':>6}{'accuracy':>10}  left out")
    for how, e in table.items():
        acc = "—" if e["accuracy"] is None else f"{e['accuracy']:.1%}"
        print(f"{how:<22}{e['pairs']:>7}{e['won']:>6}{acc:>10}  {e['left_out'] or ''}")
    s = summary(table)
    if s["pairs"]:
        print(f"{'all':<22}{s['pairs']:>7}{s['won']:>6}{s['accuracy']:>10.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--plots", type=Path, default=FIXTURES / "plots" / "scripts", help="folder of .py scripts")
    parser.add_argument("--seaborn-data", type=Path, default=None, help="CSV files for sns.load_dataset")
    parser.add_argument("--pages", type=Path, nargs="*",
                        default=[FIXTURES / "judge" / "real_pages", FIXTURES / "judge" / "pages"],
                        help="folders of .html pages (first comment: <!-- instruction: ... -->)")
    parser.add_argument("--only", choices=("plots", "pages"), default=None)
    parser.add_argument("--limit", type=int, default=None, help="at most this many scripts and pages")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--workspace", type=Path, default=None, help="keep the workspace here (re-runs reuse exec)")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="another checkout whose built-in judge scores the same pairs (reported as before)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "judge_pairs.json")
    args = parser.parse_args()

    root = args.workspace or Path(tempfile.mkdtemp(prefix="judge-pairs-"))
    rows = ([] if args.only == "pages" else plot_rows(args.plots, args.seaborn_data, args.limit)) + \
           ([] if args.only == "plots" else page_rows(args.pages, args.limit))
    started = time.monotonic()
    judged = run(rows, root, args.workers, args.compare_with)
    figures: dict = {"judge": "builtin", "curate": str(Path(curate.__file__).parent),
                     "compare_with": str(args.compare_with) if args.compare_with else None,
                     "subjects": {"plots": len({r["subject"] for r in judged["after"] if "/" not in r["subject"]}),
                                  "pages": len({r["subject"] for r in judged["after"] if "/" in r["subject"]})}}
    # the same pairs for every judge: what is left out is decided on the "after" run's execution
    facts = {(r["subject"], r["how"]): r["facts"] for r in judged["after"]}
    for label, results in judged.items():
        for r in results:
            r["facts"] = facts.get((r["subject"], r["how"]), [])
        plots = pairs([r for r in results if "/" not in r["subject"]])
        pages = pairs([r for r in results if "/" in r["subject"]])
        print_table(f"plots ({label})", plots)
        print_table(f"pages ({label})", pages)
        figures[label] = {"plots": {"summary": summary(plots), "kinds": plots},
                          "pages": {"summary": summary(pages), "kinds": pages}}
    figures["seconds"] = round(time.monotonic() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nfigures: {args.out}")


if __name__ == "__main__":
    main()
