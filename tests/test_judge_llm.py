"""The LLM/VLM judge stage against a local OpenAI-compatible server that injects latency, 429 with
Retry-After, 500, timeouts and malformed bodies: every row ends judged or failed with its reason, a re-run
pays only for the failed rows, the spending guard holds, and the key never reaches a file or a log."""

from __future__ import annotations

import json
import shutil
from collections import Counter

import polars as pl
import pytest

from curate.judges.llm import parse_page, parse_plot_score
from curate.llm import LLMConfig, ParseError, data_url
from curate.runner import run_stage
from curate.stages.collect import Collect, CollectParams
from curate.stages.exec import Exec, ExecParams
from curate.stages.judge import Judge, JudgeParams
from curate.store import Workspace
from tests.judge_cases import clean_pages
from tests.llm_server import LLMServer, default_responder, prompt_text

SECRET = "sk-curate-test-SECRET-0123456789"
PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [2, 1, 3])\nplt.title('{t}')\n"


@pytest.fixture(scope="module")
def executed(tmp_path_factory) -> Workspace:
    root = tmp_path_factory.mktemp("llmjudge")
    rows = [{"instruction": ins, "code": html, "language": "html"} for ins, html in clean_pages()[:4]]
    rows += [{"instruction": f"Plot {t} as a line chart", "code": PLOT.format(t=t), "language": "python"}
             for t in ("sales", "costs", "GARBLED answers")]
    rows.append({"instruction": "A plot that crashes", "code": "1 / 0", "language": "python"})
    (root / "in.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    ws = Workspace(root / "ws")
    run_stage(ws, Collect(CollectParams(paths=[str(root / "in.jsonl")], kind="code")), [], "raw")
    run_stage(ws, Exec(ExecParams()), ["raw"], "executed", workers=1)
    return ws


@pytest.fixture
def ws(executed, tmp_path) -> Workspace:
    shutil.copytree(executed.root, tmp_path / "ws")
    return Workspace(tmp_path / "ws")


def llm(server: LLMServer, **kw) -> LLMConfig:
    base = dict(model="judge-vlm", base_url=server.url, api_key_env="CURATE_TEST_KEY", timeout_s=1.0,
                backoff_s=0.01, backoff_max_s=0.1, max_retries=3, parse_retries=1, concurrency=8)
    return LLMConfig(**{**base, **kw})


def faulty_plan():
    """Rotating faults on each prompt's first two tries; one page always 500s, one plot always babbles."""
    tries: Counter[str] = Counter()
    order: dict[str, int] = {}  # prompts in order of arrival: any three of them meet every fault
    faults = ["429", "500", "timeout", "malformed"]

    def plan(seen: int, body: dict) -> str | None:
        text = prompt_text({"messages": body["messages"][:2]})
        if "photographer" in text:
            return "500"
        if "GARBLED" in text:
            return "bad_content"
        tries[text] += 1
        index = order.setdefault(text, len(order))
        return faults[(2 * index + tries[text]) % len(faults)] if tries[text] <= 2 else None
    return plan


def test_every_row_judged_or_failed_and_rerun_pays_only_for_failures(ws, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", SECRET)
    with LLMServer(plan=faulty_plan(), hang_s=2.5, latency=0.01) as server:
        params = JudgeParams(judge="llm", llm=llm(server))
        summary = run_stage(ws, Judge(params), ["executed"], "judged")
        assert summary.kept == summary.n_in == 8  # nothing lost
        for fault in ("429", "500", "timeout", "malformed", "bad_content"):
            assert server.counts[fault], fault
        frame = ws.read("judged")
        for row in frame.iter_rows(named=True):
            assert (row["judge_error"] is None) != (row["score_total"] is None), row["instruction"]
        by = {r["instruction"]: r for r in frame.iter_rows(named=True)}
        page_500 = next(r for k, r in by.items() if "photographer" in k)
        assert page_500["judge_error"].startswith("http_500") and page_500["judge_requests"] == 4
        garbled = by["Plot GARBLED answers as a line chart"]
        assert garbled["judge_error"].startswith("unparseable answer") and garbled["judge_requests"] == 2
        crashed = by["A plot that crashes"]
        assert crashed["score_total"] == 0 and crashed["judge_requests"] == 0 and crashed["reward"] == pytest.approx(-0.1)
        pages = frame.filter((pl.col("language") == "html") & pl.col("judge_error").is_null())
        assert pages.height == 3 and pages["judge_name"].unique().to_list() == ["llm:judge-vlm"]
        for row in pages.iter_rows(named=True):
            parts = row["score_alignment"] + row["score_aesthetics"] + row["score_structure"]
            assert row["score_total"] == pytest.approx(parts) and row["judge_feedback"]
            assert row["reward"] == pytest.approx(0.1 + 0.8 * row["score_total"] / 100)
        plots = frame.filter((pl.col("language") == "python") & pl.col("judge_error").is_null() & pl.col("exec_ok"))
        assert plots.height == 2 and plots["score_task"].to_list() == plots["score_total"].to_list()
        assert frame["judge_prompt_tokens"].sum() > 0

        before = server.counts["requests"]
        again = run_stage(ws, Judge(params), ["executed"], "judged", force=True)
        assert again.kept == 8
        # only the two rows that failed were asked again, with the same budgets
        assert server.counts["requests"] - before == 4 + 2
        rerun = ws.read("judged")
        done = rerun.filter(pl.col("judge_error").is_null() & pl.col("exec_ok"))
        assert done.height == 5 and done["judge_requests"].sum() == 0 and done["judge_cached"].all()
        assert sorted(done["score_total"].to_list()) == sorted(
            frame.filter(pl.col("judge_error").is_null() & pl.col("exec_ok"))["score_total"].to_list())
    # the key reached no file of the workspace
    for path in ws.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_spending_guard(ws, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    with LLMServer() as server:
        run_stage(ws, Judge(JudgeParams(judge="llm", llm=llm(server, max_requests=3, concurrency=2))),
                  ["executed"], "judged")
        assert server.counts["requests"] == 3
    frame = ws.read("judged").filter(pl.col("exec_ok"))
    judged = frame.filter(pl.col("judge_error").is_null())
    assert judged.height == 3
    stopped = frame.filter(pl.col("judge_error").is_not_null())["judge_error"].to_list()
    assert stopped and all(e.startswith("max_requests reached") for e in stopped)


def test_cli_judge_llm(ws, cli):
    with LLMServer(fail_rate=0.2, faults=("429", "500"), retry_after=0.01) as server:
        done = cli("judge", "executed", "--as", "judged", "--judge", "llm", "--base-url", server.url,
                   "--model", "judge-vlm", "--api-key-env", "CURATE_TEST_KEY", "--max-retries", "8",
                   "--price-input", "1.5", workspace=ws.root, env={"CURATE_TEST_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    assert "failed 0" in done.stderr and "requests" in done.stderr and "tokens" in done.stderr
    assert SECRET not in done.stdout + done.stderr
    frame = ws.read("judged")
    assert frame["judge_cost_usd"].sum() == pytest.approx(frame["judge_prompt_tokens"].sum() * 1.5 / 1e6)
    manifest = (ws.root / "tables" / "judged" / "_manifest.json").read_text()
    assert "CURATE_TEST_KEY" in manifest and SECRET not in manifest
    missing = cli("judge", "executed", "--as", "j2", "--judge", "llm", "--model", "m",
                  "--api-key-env", "CURATE_NO_SUCH_KEY", workspace=ws.root)
    assert missing.returncode == 2 and "CURATE_NO_SUCH_KEY" in missing.stderr


def test_images_are_sent_as_data_urls(ws, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    with LLMServer(responder=default_responder) as server:
        run_stage(ws, Judge(JudgeParams(judge="llm", llm=llm(server))), ["executed"], "judged")
        images = [part["image_url"]["url"] for body in server.bodies for m in body["messages"]
                  if isinstance(m["content"], list) for part in m["content"] if part["type"] == "image_url"]
    assert len(images) == 7 and all(u.startswith("data:image/png;base64,iVBOR") for u in images)
    assert any((ws.root / "cache" / "llm").glob("answers-*.jsonl"))


def test_visual_score_against_a_reference(tmp_path, monkeypatch):
    """PandasPlotBench's visual judge: the generated plot first, the reference second, colours not compared;
    total = mean of the task and visual scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from curate.stages.exec import store_png

    monkeypatch.setenv("CURATE_TEST_KEY", "k")
    ws = Workspace(tmp_path / "ws")
    fig, ax = plt.subplots()
    ax.plot([1, 2, 3], [2, 1, 3])
    fig.savefig(tmp_path / "ref.png")
    plt.close(fig)
    ref = store_png(ws.root, (tmp_path / "ref.png").read_bytes())
    row = {"id": "p1", "instruction": "Plot the series as a line", "language": "python", "ref": ref,
           "code": PLOT.format(t="series")}
    (tmp_path / "in.jsonl").write_text(json.dumps(row) + "\n")
    run_stage(ws, Collect(CollectParams(paths=[str(tmp_path / "in.jsonl")])), [], "raw")
    run_stage(ws, Exec(ExecParams()), ["raw"], "executed", workers=1)
    with LLMServer() as server:
        run_stage(ws, Judge(JudgeParams(judge="llm", llm=llm(server), reference_column="ref")),
                  ["executed"], "judged")
        visual = [b for b in server.bodies if "ground-truth plot" in prompt_text(b)]
        assert len(server.bodies) == 2 and len(visual) == 1
        assert "Do not take colours into account" in prompt_text(visual[0])
        urls = [p["image_url"]["url"] for p in visual[0]["messages"][1]["content"] if p["type"] == "image_url"]
        assert len(urls) == 2 and urls[1] == data_url((tmp_path / "ref.png").read_bytes())  # reference second
    out = ws.read("judged").row(0, named=True)
    assert out["score_visual"] is not None and out["score_task"] is not None
    assert out["score_total"] == pytest.approx((out["score_visual"] + out["score_task"]) / 2)
    findings = {f["rule"] for f in json.loads(out["judge_findings"])}
    assert findings == {"pandasplotbench-task", "pandasplotbench-visual"}


def test_plot_scores_are_read_as_pandasplotbench_reads_them():
    assert parse_plot_score("85") == 85 and parse_plot_score(" 85\n") == 85
    assert parse_plot_score("Good plot.\n[FINAL SCORE]: 40\nOn reflection:\n[FINAL SCORE]:72") == 72
    for bad in ("FINAL SCORE 80", "score: 80", "[FINAL SCORE]: 180"):
        with pytest.raises(ParseError):
            parse_plot_score(bad)


def test_the_judges_own_total_is_kept_and_a_disagreement_recorded(ws, monkeypatch):
    monkeypatch.setenv("CURATE_TEST_KEY", "k")

    def generous(body: dict) -> str:
        if "total_score" in prompt_text(body):
            return '{"alignment_score": 30, "aesthetics_score": 20, "structure_score": 20, "total_score": 90, "feedback": "x"}'
        return "[FINAL SCORE]: 50"

    with LLMServer(responder=generous) as server:
        run_stage(ws, Judge(JudgeParams(judge="llm", llm=llm(server))), ["executed"], "judged")
    pages = ws.read("judged").filter(pl.col("language") == "html")
    assert pages["score_total"].to_list() == [90.0] * pages.height
    for row in pages.iter_rows(named=True):
        mismatch = [f for f in json.loads(row["judge_findings"]) if f["rule"] == "total-mismatch"]
        assert len(mismatch) == 1 and "90" in mismatch[0]["message"] and "70" in mismatch[0]["message"]
    assert parse_page('{"alignment_score": 40, "aesthetics_score": 30, "structure_score": 30, "total_score": 100}')["total"] == 100


def test_prompt_files_replace_the_defaults(ws, cli, tmp_path):
    page = tmp_path / "page.txt"
    page.write_text('[system]\nYou are terse.\n[user]\nRate this page for: {instruction}\n'
                    'Reply {"alignment_score": a, "aesthetics_score": b, "structure_score": c, "total_score": t}')
    task = tmp_path / "task.txt"
    task.write_text("Score the plot for {instruction}. End with [FINAL SCORE]: N")
    with LLMServer() as server:
        done = cli("judge", "executed", "--as", "judged", "--judge", "llm", "--base-url", server.url, "--model", "m",
                   "--api-key-env", "CURATE_TEST_KEY", "--prompt-file", f"page={page}", "--prompt-file",
                   f"plot-task={task}", workspace=ws.root, env={"CURATE_TEST_KEY": "k"})
        assert done.returncode == 0, done.stderr
        systems = [m["content"] for b in server.bodies for m in b["messages"] if m["role"] == "system"]
        texts = [prompt_text(b) for b in server.bodies]
    assert systems and set(systems) == {"You are terse."}  # only the page prompt has a system section
    assert any(t.startswith("You are terse.\nRate this page for: A ") and '{"alignment_score": a' in t for t in texts)
    assert any(t.startswith("Score the plot for Plot sales as a line chart") for t in texts)
    (tmp_path / "blind.txt").write_text("Rate the page.")
    blind = cli("judge", "executed", "--as", "j2", "--judge", "llm", "--model", "m", "--api-key-env", "CURATE_TEST_KEY",
                "--prompt-file", f"page={tmp_path / 'blind.txt'}", workspace=ws.root, env={"CURATE_TEST_KEY": "k"})
    assert blind.returncode == 2 and "{instruction}" in blind.stderr and "Traceback" not in blind.stderr
    unknown = cli("judge", "executed", "--as", "j3", "--prompt-file", f"pages={page}", workspace=ws.root)
    assert unknown.returncode == 2 and "plot-task" in unknown.stderr
