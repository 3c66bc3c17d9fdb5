"""`exec`: run every code sample in the sandbox (Python) or in Chromium (HTML) and record what happened.

Every input row is kept: a sample that fails (an exception, a timeout, a blocked request, no code at all)
is a row with `exec_ok = false` and the reason, because the judges need the failures too. Results are
keyed by `exec_key`, a hash of the extracted code, its data files, the limits and the runtime versions,
and cached per sample under `<workspace>/cache/exec/`, so a re-run, a resumed run or a run with another
batch size does not execute a finished sample again. A result is a function of the sample: failures that
are the machine's doing (a sandbox or browser that died under it) are not cached, so that a re-run tries
them again. Images and screenshots are PNG files in the workspace's artifacts folder, named by content hash.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import platform
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
from pydantic import Field

from curate.errors import CurateError
from curate.records import content_hash
from curate.render.chromium import chromium_path
from curate.render.facts import FACTS_JS
from curate.render.pages import PageJob, PageRenderer, PageResult
from curate.sandbox import Limits, SandboxWorker, choose, figure_facts
from curate.sandbox.figure_facts import safe_plotly_facts
from curate.stage import Outcome, Params, Stage, Unit, read_unit
from curate.store.atomic import write_bytes, write_json
from curate.store.workspace import Workspace

RESULT_COLUMNS: dict[str, pa.DataType] = {
    "exec_ok": pa.bool_(), "exec_status": pa.int64(), "exec_error_type": pa.string(), "exec_error": pa.string(),
    "stdout": pa.string(), "stderr": pa.string(), "wall_s": pa.float64(), "cpu_s": pa.float64(),
    "peak_mem_mb": pa.float64(), "images": pa.list_(pa.string()), "screenshot": pa.string(),
    "screenshot_full": pa.string(), "console_errors": pa.list_(pa.string()),
    "failed_requests": pa.list_(pa.string()), "page_facts": pa.string(), "plot_facts": pa.list_(pa.string()),
    "exec_key": pa.string(),
}
FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
TAGS = {"python": {"python", "py", "python3"}, "html": {"html", "htm"}, "css": {"css"},
        "js": {"javascript", "js"}}
PACKAGES = ("matplotlib", "seaborn", "plotly", "pandas", "numpy", "playwright")
# Failures that are the machine's doing, not the sample's: a re-run tries these samples again.
NOT_CACHED = {"SandboxError", "BrowserCrash"}


class ExecParams(Params):
    wall_s: float = Field(30.0, gt=0, description="Wall-clock seconds per sample (Python) or page.")
    cpu_s: int = Field(30, gt=0, description="CPU seconds per Python sample.")
    mem_mb: int = Field(2048, gt=64, description="Memory per Python sample (all its processes, where cgroups "
                                                  "allow; else per process) and per browser process, MB.")
    nproc: int = Field(64, gt=0, description="Processes and threads per Python sample.")
    output_kb: int = Field(64, gt=0, description="stdout/stderr kept per sample, KB.")
    allow_imports: list[str] | None = Field(None, description="Top-level modules a sample may import "
                                                              "(None: any installed).")
    sandbox: str = Field("auto", description="Sandbox backend: auto, bwrap, unshare or none.")
    unsafe_no_sandbox: bool = Field(False, description="Allow running untrusted code without isolation.")
    max_dom: int = Field(50_000, gt=0, description="Pages with more elements fail with DomTooLarge.")

    def limits(self) -> Limits:
        return Limits(wall_s=self.wall_s, cpu_s=self.cpu_s, mem_mb=self.mem_mb, nproc=self.nproc,
                      output_bytes=self.output_kb * 1024)


def extract(text: str, language: str) -> str | None:
    """The code of a sample: its fenced blocks when it is a model answer, else the text itself.

    Python: every ```python block, in order. HTML: the ```html block, with ```css and ```js blocks
    folded in as <style> and <script>. A bare text without fences is taken whole.
    """
    blocks = [(tag.lower(), body) for tag, body in FENCE.findall(text or "")]
    if not blocks:
        return text.strip() or None if text else None
    pick = [body for tag, body in blocks if tag in TAGS[language]] or [body for tag, body in blocks if not tag]
    if not pick:
        return None
    if language == "python":
        return "\n\n".join(pick).strip() or None
    page = pick[0]
    css = "".join(f"<style>\n{b}</style>\n" for tag, b in blocks if tag in TAGS["css"])
    js = "".join(f"<script>\n{b}</script>\n" for tag, b in blocks if tag in TAGS["js"])
    if css:
        page = page.replace("</head>", css + "</head>", 1) if "</head>" in page else css + page
    if js:
        page = page.replace("</body>", js + "</body>", 1) if "</body>" in page else page + js
    return page.strip() or None


@functools.cache
def runtime_versions() -> dict[str, str]:
    """What a sample's result depends on besides its code: the interpreter, the libraries, Chromium."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "absent"
    try:
        out = subprocess.run([chromium_path(), "--version"], capture_output=True, text=True, timeout=30).stdout
        versions["chromium"] = (re.findall(r"Chromium [\d.]+", out) or [out.strip()[-60:]])[0]
    except (CurateError, OSError, subprocess.TimeoutExpired):
        versions["chromium"] = "absent"
    return versions


@functools.cache
def facts_fingerprint(language: str) -> str:
    """The code that reads a page's or a figure's facts: a new version of it is a new result."""
    source = FACTS_JS.encode() if language == "html" else Path(figure_facts.__file__).read_bytes()
    return hashlib.sha256(source).hexdigest()[:16]


def workspace_root(part: Path) -> Path:
    """The workspace a table part belongs to (`<root>/tables/<name>/part-*.parquet`)."""
    return part.resolve().parents[2]


class Exec(Stage):
    name = "exec"
    Params = ExecParams
    reads = ("code", "language")
    writes = tuple(RESULT_COLUMNS)
    version = "3"  # 3: plot_facts
    batch_size = 16  # small shards spread the work over the workers; the per-sample cache makes resumes fine

    def __init__(self, params: Params | None = None, **kwargs: Any):
        super().__init__(params, **kwargs)
        self._sandbox: SandboxWorker | None = None
        self._pages: PageRenderer | None = None

    def check(self, empty: pl.DataFrame) -> None:
        self._backend()

    def units(self, input_parts: list[Path]) -> list[Unit]:
        # Workers write artifacts and the result cache beside the tables they read: the stage learns the
        # workspace from its input rather than from a parameter (which a recipe could not fill in).
        return [Unit(u.key, u.path, u.offset, u.length, {"workspace": str(workspace_root(Path(u.path)))})
                for u in super().units(input_parts)]

    def run_unit(self, unit: Unit) -> Outcome:
        root = Path(unit.extra["workspace"])
        batch = read_unit(unit)
        samples = [self._prepare(row, root) for row in batch.iter_rows(named=True)]
        pages = [s for s in samples if s.result is None and s.language == "html"]
        if pages:  # rendered together: the browser works on one page while another waits
            jobs = [PageJob(s.code, {f["name"]: f["content"].encode() for f in s.files}) for s in pages]
            for sample, page in zip(pages, self._renderer().render_many(jobs), strict=True):
                sample.finish(page_result(page, root))
        for sample in samples:
            if sample.result is None:
                sample.finish(self._python(sample.code, sample.files, root))
            elif not sample.cached:
                sample.finish(sample.result)
        columns = {name: pa.array([s.result[name] for s in samples], type=t) for name, t in RESULT_COLUMNS.items()}
        kept = batch.drop([c for c in RESULT_COLUMNS if c in batch.columns]).to_arrow()
        for name, array in columns.items():
            kept = kept.append_column(name, array)
        return Outcome(kept=kept, n_in=batch.height)

    def teardown(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        if self._pages is not None:
            self._pages.close()
            self._pages = None

    # ----- one sample -----------------------------------------------------------------------------
    def exec_key(self, code: str | None, language: str, files: list[dict[str, str]]) -> str:
        p = self.params
        # The backend counts for Python: a result obtained without isolation is not one with it.
        backend = self._backend() if language == "python" else None
        return content_hash({"stage": self.version, "language": language, "code": code, "files": files,
                             "limits": p.limits().model_dump(), "allow_imports": p.allow_imports,
                             "max_dom": p.max_dom, "sandbox": backend, "runtime": runtime_versions(),
                             "facts": facts_fingerprint(language)})

    def _backend(self) -> str:
        return choose(self.params.sandbox, self.params.unsafe_no_sandbox)

    def _prepare(self, row: dict[str, Any], root: Path) -> _Sample:
        """Extract the code and look up the cache; `result` is set when nothing is left to run."""
        language = (row.get("language") or "").lower()
        files = [{"name": str(f["name"]), "content": str(f["content"])} for f in (row.get("data_files") or [])]
        code = extract(row.get("code") or "", language) if language in ("python", "html") else None
        key = self.exec_key(code, language, files)
        sample = _Sample(language, code, files, key, root / "cache" / "exec" / key[:2] / f"{key}.json")
        if sample.cache.exists():
            sample.result, sample.cached = json.loads(sample.cache.read_text()), True
        elif language not in ("python", "html"):
            sample.result = failure("UnknownLanguage", f"language {row.get('language')!r} is neither python nor html")
        elif code is None:
            sample.result = failure("NoCode", f"no {language} code found (no ```{language} block in the answer)")
        return sample

    def _python(self, code: str, files: list[dict[str, str]], root: Path) -> dict[str, Any]:
        if self._sandbox is None:
            self._sandbox = SandboxWorker(self._backend(), self.params.limits(), self.params.allow_imports)
        reply = self._sandbox.run(code, files)
        images, facts, errors = [], [], list(reply["notes"])
        for figure in reply["figures"]:
            if figure["kind"] == "png":
                images.append(store_png(root, figure["data"]))
                facts.append(figure["plot_facts"])
                continue
            page = self._renderer().render_plotly(figure["data"])
            if page.screenshot:
                images.append(store_png(root, page.screenshot))
                facts.append(safe_plotly_facts(figure["data"]))  # from its JSON, on our side
            else:
                errors.append(f"plotly figure not rendered: {page.error}")
        result = blank()
        result.update(exec_ok=bool(reply["ok"]), exec_status=int(reply["status"]),
                      exec_error_type=reply["error_type"], exec_error=reply["error"], stdout=reply["stdout"],
                      stderr=reply["stderr"], wall_s=reply["wall_s"], cpu_s=reply["cpu_s"],
                      peak_mem_mb=reply["peak_mem_mb"], images=images, plot_facts=facts, console_errors=errors)
        return result

    def _renderer(self) -> PageRenderer:
        if self._pages is None:
            self._pages = PageRenderer(timeout_s=self.params.wall_s, max_dom=self.params.max_dom,
                                       mem_mb=self.params.mem_mb)
        return self._pages


@dataclass
class _Sample:
    language: str
    code: str | None
    files: list[dict[str, str]]
    key: str
    cache: Path
    result: dict[str, Any] | None = None
    cached: bool = False

    def finish(self, result: dict[str, Any]) -> None:
        """Record the result, in the row and in the cache (at once: a killed run keeps what is done)."""
        self.result = {**result, "exec_key": self.key}
        if result["exec_error_type"] not in NOT_CACHED:
            write_json(self.result, self.cache)
        self.cached = True


def page_result(page: PageResult, root: Path) -> dict[str, Any]:
    result = blank()
    result.update(exec_ok=page.ok, exec_status=0 if page.ok else 1, exec_error_type=page.error_type,
                  exec_error=page.error, wall_s=page.wall_s, console_errors=page.console_errors,
                  failed_requests=page.failed_requests,
                  screenshot=store_png(root, page.screenshot) if page.screenshot else None,
                  screenshot_full=store_png(root, page.screenshot_full) if page.screenshot_full else None,
                  page_facts=json.dumps(page.facts, sort_keys=True) if page.facts is not None else None)
    return result


def blank() -> dict[str, Any]:
    return {"exec_ok": False, "exec_status": None, "exec_error_type": None, "exec_error": None, "stdout": None,
            "stderr": None, "wall_s": None, "cpu_s": None, "peak_mem_mb": None, "images": [],
            "screenshot": None, "screenshot_full": None, "console_errors": [], "failed_requests": [],
            "page_facts": None, "plot_facts": [], "exec_key": None}


def failure(error_type: str, message: str) -> dict[str, Any]:
    result = blank()
    result.update(exec_status=-1, exec_error_type=error_type, exec_error=message)
    return result


def store_png(root: Path, data: bytes) -> str:
    """Write a PNG into the workspace's artifacts by content hash; returns the hash."""
    digest = hashlib.sha256(data).hexdigest()
    path = Workspace(root).artifact_path(digest)
    if not path.exists():
        write_bytes(data, path)
    return digest
