"""Benchmark of the judges. Figures go to bench/results/judge.json.

1. LLM client throughput against the local OpenAI-compatible server (tests/llm_server.py, in its own
   process) with 100 ms latency and 10% injected failures (429 with Retry-After, 500): HTTP requests per
   second at concurrency 32, side by side with the bound 32 / 0.1 s = 320/s (target ≥ 90%). The client's
   CPU time per request and the machine's load are recorded too: on a shared machine the client (the
   openai SDK's per-request work) runs out of CPU before it runs out of slots.
2. Built-in judge: plots and pages scored per second (judging only; rendering is done beforehand).

Run: python bench/judge.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from curate.judges.base import Sample  # noqa: E402
from curate.judges.builtin import judge_builtin  # noqa: E402
from curate.llm import LLMClient, LLMConfig, Request, parse_json_object  # noqa: E402

LATENCY, FAIL_RATE, CONCURRENCY = 0.1, 0.1, 32


def _serve(port_queue: multiprocessing.Queue, stop: multiprocessing.Event) -> None:
    from tests.llm_server import LLMServer

    server = LLMServer(latency=LATENCY, fail_rate=FAIL_RATE, faults=("429", "500"), retry_after=0.05).start()
    port_queue.put(server.port)
    stop.wait()
    port_queue.put(dict(server.counts))
    server.stop()


def client_throughput(n: int) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    ports, stop = ctx.Queue(), ctx.Event()
    proc = ctx.Process(target=_serve, args=(ports, stop), daemon=True)
    proc.start()
    port = ports.get(timeout=30)
    config = LLMConfig(model="bench", base_url=f"http://127.0.0.1:{port}/v1", api_key_env="CURATE_BENCH_KEY",
                       concurrency=CONCURRENCY, backoff_s=0.05, backoff_max_s=0.5, max_retries=8, timeout_s=10)
    requests = [Request("bench", [{"role": "user", "content": f"item {i}: reply with total_score"}],
                        parse=lambda t: parse_json_object(t, ["total_score"])) for i in range(n)]
    client = LLMClient(config)
    client.run(requests[:CONCURRENCY])  # warm the connection pool
    sent_before = client.usage.requests
    start, cpu = time.perf_counter(), time.process_time()
    results = client.run(requests)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    stop.set()
    counts = ports.get(timeout=30)
    proc.join(10)
    sent = client.usage.requests - sent_before
    bound = CONCURRENCY / LATENCY
    return {"requests": n, "http_requests": sent, "retries": client.usage.retries,
            "answered": sum(r.ok for r in results), "seconds": round(elapsed, 3),
            "http_requests_per_s": round(sent / elapsed, 1), "answers_per_s": round(n / elapsed, 1),
            "bound_per_s": bound, "share_of_bound": round(sent / elapsed / bound, 3),
            "client_cpu_ms_per_request": round(1000 * cpu / sent, 2), "load_average": os.getloadavg()[0],
            "cpus": os.cpu_count(),
            "server_faults": {k: v for k, v in counts.items() if k in ("429", "500")}}


def builtin_throughput(n_plots: int, n_pages: int) -> dict[str, float]:
    from curate.render.pages import PageRenderer
    from tests.judge_cases import (
        PAGE_DEGRADATIONS,
        PLOT_DEGRADATIONS,
        PLOTS,
        clean_pages,
        degrade_page,
        degrade_plot,
        render_plot,
    )

    folder = Path(tempfile.mkdtemp())
    plots = [p if i % 2 == 0 else degrade_plot(p, PLOT_DEGRADATIONS[i % len(PLOT_DEGRADATIONS)])
             for i, p in enumerate(PLOTS * (n_plots // len(PLOTS) + 1))][:n_plots]
    rendered_plots = [render_plot(p, folder / f"{i}.png") for i, p in enumerate(plots)]
    samples = [Sample(id=str(i), instruction=p.instruction, code=p.code(), language="python", exec_ok=True,
                      images=[image], plot_facts=[facts]) for i, (p, (image, facts)) in enumerate(zip(plots, rendered_plots, strict=True))]
    start = time.perf_counter()
    for sample in samples:
        judge_builtin(sample)
    plot_rate = len(samples) / (time.perf_counter() - start)

    pages = [(ins, html if i % 2 == 0 else degrade_page(html, PAGE_DEGRADATIONS[i % len(PAGE_DEGRADATIONS)]))
             for i, (ins, html) in enumerate(clean_pages() * (n_pages // 5 + 1))][:n_pages]
    with PageRenderer() as renderer:
        rendered = [Sample.from_page(ins, html, renderer.render(html)) for ins, html in pages]
    start = time.perf_counter()
    for sample in rendered:
        judge_builtin(sample)
    page_rate = len(rendered) / (time.perf_counter() - start)
    return {"plots": len(samples), "plots_per_s": round(plot_rate, 1), "pages": len(rendered),
            "pages_per_s": round(page_rate, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tiny smoke run")
    args = parser.parse_args()
    os.environ.setdefault("CURATE_BENCH_KEY", "not-a-real-key")
    figures = {"quick": args.quick,
               "llm_client": client_throughput(300 if args.quick else 3000),
               "builtin_judge": builtin_throughput(8 if args.quick else 48, 5 if args.quick else 25)}
    out = ROOT / "bench" / "results" / "judge.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
