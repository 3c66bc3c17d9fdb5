"""What runs inside a sample's own process around its code: capture its figures, run it, report.

The report goes over the result pipe only (see `wire`): the record, then each figure's bytes; figures over
the caps are left out with a note rather than sent. Standalone, bound into the sandbox beside the zygote.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import random
import sys
import traceback

import matplotlib.pyplot as plt
import numpy
import plotly.basedatatypes
import plotly.io
from figure_facts import install, safe_matplotlib_facts
from matplotlib.figure import Figure
from wire import MAX_FIGURES, MAX_NOTES, MAX_PLOTLY_BYTES, MAX_TEXT, ProtocolError, frame, png_size

TOTAL_FIGURE_BYTES = 32 << 20  # all figures of one sample together
install()  # tags what each plotting call draws (once, in the zygote), for the facts the judges read


class Capture:
    """Figures the sample made: matplotlib figures (open at the end or saved) and plotly figures shown."""

    def __init__(self, workdir: str):
        self.figures: list[Figure] = []
        self.plotly: list = []  # plotly figures shown or written, each once
        original_savefig = Figure.savefig
        capture = self

        def savefig(fig, fname, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            capture.note(fig)
            if isinstance(fname, (str, os.PathLike)):  # savefig paths land in the sample's folder
                fname = os.path.join(workdir, os.path.basename(os.fspath(fname)) or "figure.png")
            return original_savefig(fig, fname, *args, **kwargs)

        def show_plotly(fig, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if not any(f is fig for f in capture.plotly):
                capture.plotly.append(fig)

        Figure.savefig = savefig
        plt.show = lambda *a, **k: None
        plotly.basedatatypes.BaseFigure.show = show_plotly
        plotly.basedatatypes.BaseFigure.write_image = show_plotly  # no kaleido: rendered in Chromium instead
        plotly.basedatatypes.BaseFigure.write_html = show_plotly
        plotly.io.show = show_plotly

    def note(self, fig: Figure) -> None:
        if not any(f is fig for f in self.figures):
            self.figures.append(fig)

    def payloads(self, namespace: dict) -> tuple[list[dict], list[bytes], list[str]]:
        """(figure entries, their bytes, notes on what was left out)."""
        for num in plt.get_fignums():
            self.note(plt.figure(num))
        if not self.plotly:  # plotly figures built but never shown: the sample's "open figures"
            self.plotly = [v for v in namespace.values() if isinstance(v, plotly.basedatatypes.BaseFigure)]
        entries, blobs, notes, total = [], [], [], 0
        made = [("png", f) for f in self.figures] + [("plotly", f) for f in self.plotly]
        for i, (kind, fig) in enumerate(made[:MAX_FIGURES]):
            facts = None  # plotly figures: read on the host from their JSON
            if kind == "png":
                facts = safe_matplotlib_facts(fig, 100)  # what the image saved below shows
                buffer = io.BytesIO()
                fig.canvas.print_figure(buffer, format="png", dpi=100)
                data = buffer.getvalue()
                try:
                    png_size(data)
                except ProtocolError as err:
                    notes.append(f"figure {i + 1} left out: {err}")
                    continue
            else:
                data = plotly.io.to_json(fig).encode()
                if len(data) > MAX_PLOTLY_BYTES:
                    notes.append(f"figure {i + 1} left out: plotly JSON of {len(data):,} bytes "
                                 f"(cap {MAX_PLOTLY_BYTES:,})")
                    continue
            if total + len(data) > TOTAL_FIGURE_BYTES:
                notes.append(f"figure {i + 1} left out: the figures pass {TOTAL_FIGURE_BYTES >> 20} MB together")
                continue
            total += len(data)
            entries.append({"kind": kind, "plot_facts": facts})
            blobs.append(data)
        if len(made) > MAX_FIGURES:
            notes.append(f"{len(made) - MAX_FIGURES} figure(s) beyond the first {MAX_FIGURES} left out")
        return entries, blobs, notes[:MAX_NOTES]


def allow_imports(allowed: list[str]) -> None:
    real_import = builtins.__import__
    allowed_set = set(allowed)

    def guarded(name, globals=None, locals=None, fromlist=(), level=0):  # noqa: A002, ANN001, ANN202
        if level == 0 and (globals or {}).get("__name__") == "__main__" and name.split(".")[0] not in allowed_set:
            raise ImportError(f"import of {name!r} is not allowed (allowed: {', '.join(sorted(allowed_set))})")
        return real_import(name, globals, locals, fromlist, level)

    builtins.__import__ = guarded


def run(request: dict, workdir: str, result_fd: int) -> None:
    """Run the sample's code in this process, report over `result_fd`, exit. Never returns."""
    me = os.getpid()
    capture = Capture(workdir)
    random.seed(0)  # the same sample draws the same figure (generators it seeds or creates itself aside)
    numpy.random.seed(0)
    if request.get("allow_imports") is not None:
        allow_imports(request["allow_imports"])
    record = {"exit": 0, "error_type": None, "error": None, "notes": [], "figures": []}
    namespace = {"__name__": "__main__", "__file__": os.path.join(workdir, "sample.py")}
    try:
        exec(compile(request["code"], "sample.py", "exec"), namespace)  # noqa: S102
    except SystemExit as err:
        status = err.code if isinstance(err.code, int) else (0 if err.code is None else 1)
        record["exit"] = status if 0 <= status < 256 else 1
        if status:
            record.update(error_type="SystemExit", error=f"exit status {status}")
    except BaseException as err:  # noqa: BLE001 - whatever the sample raises is its result
        if os.getpid() != me:
            os._exit(1)  # a process the sample forked: never run the harness twice
        record.update(exit=1, error_type=type(err).__name__[:MAX_TEXT["error_type"]],
                      error=str(err)[:MAX_TEXT["error"]])
        try:
            sys.stderr.write(traceback.format_exc())
        except BaseException:  # noqa: BLE001
            pass
    if os.getpid() != me:
        os._exit(0)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    blobs: list[bytes] = []
    if record["exit"] == 0:
        try:
            record["figures"], blobs, record["notes"] = capture.payloads(namespace)
        except BaseException as err:  # noqa: BLE001
            record.update(exit=1, error_type=type(err).__name__[:MAX_TEXT["error_type"]],
                          error=f"saving figures failed: {err}"[:MAX_TEXT["error"]], figures=[])
            blobs = []
    try:
        data = memoryview(b"".join([frame(json.dumps(record).encode()), *map(frame, blobs)]))
        while data:
            data = data[os.write(result_fd, data):]
    finally:
        os._exit(record["exit"])
