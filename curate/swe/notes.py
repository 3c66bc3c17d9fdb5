"""What a trajectory collect's summary adds: rows the `--unlisted unresolved` rule would keep, and rows whose
trajectories hold test-evaluation outcomes (`leaks_test_results`)."""

from __future__ import annotations

import re

from curate.store import Workspace
from curate.swe.labels import UNLISTED_HINT

REPORT = re.compile(r"not listed in report (.+?);")


def collect_notes(ws: Workspace, table: str) -> list[str]:
    with ws.connect(read_only=True) as con:
        unlisted = con.execute("SELECT message FROM rejects WHERE table_name = ? AND reason = 'no_label' "
                               "AND contains(message, ?)", [table, UNLISTED_HINT]).fetchall()
        columns = {r[0] for r in con.execute(f'DESCRIBE "{table}"').fetchall()} if table in ws.table_names() else set()
        leaks = (con.execute(f'SELECT count(*) FILTER (WHERE leaks_test_results), count(*) FROM "{table}"').fetchone()
                 if "leaks_test_results" in columns else (0, 0))
    notes = []
    if unlisted:
        reports = sorted({m[1] for (text,) in unlisted if (m := REPORT.search(text))})
        notes.append(f"{len(unlisted):,} trajectories have no label: their instances are not listed in "
                     f"{', '.join(reports) or 'the report'}. If the report lists resolved ids only (\"not listed\" "
                     f"means \"not resolved\"), {UNLISTED_HINT} keeps these {len(unlisted):,} rows, labelled not "
                     f"resolved.")
    if leaks[0]:
        notes.append(f"warning: {leaks[0]:,} of {leaks[1]:,} trajectories hold test-evaluation outcomes "
                     f"(leaks_test_results): the run validated its patches, so the label leaks into what a reward "
                     f"model reads. Keep them out with: curate filter {table} --where \"NOT leaks_test_results\" "
                     f"--as {table}_clean")
    return notes
