"""Hostile Python samples: each is contained, recorded as a failure with a clear reason, the host untouched."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from curate.sandbox import Limits, SandboxWorker
from curate.sandbox.backend import sample_uid
from tests.progress import wait_for

CANARY = "curate-canary-7f3a9"


@pytest.fixture(scope="module")
def worker():
    os.environ["CURATE_TEST_SECRET_TOKEN"] = CANARY  # the sandbox must not pass it on
    limits = Limits(wall_s=3, cpu_s=2, mem_mb=700, nproc=32, fsize_mb=2, output_bytes=4096, tmpfs_mb=16)
    with SandboxWorker("bwrap", limits) as w:
        yield w
    os.environ.pop("CURATE_TEST_SECRET_TOKEN", None)


def host_processes_of(uid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        uids = next((line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")), [])
        if str(uid) in uids and "zombie" not in status:
            found.append(int(entry))
    return found


def fails(worker: SandboxWorker, code: str, *types: str) -> dict:
    result = worker.run(code)
    assert not result["ok"], result
    assert result["error_type"] in types, (result["error_type"], result["error"], result["stderr"][-500:])
    assert result["error"], "a failure must say why"
    return result


def test_a_plot_runs_and_its_figure_comes_back(worker):
    result = worker.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('/etc/out.png')\n"
                        "plt.show()\nprint('done')")
    assert result["ok"], result
    assert result["stdout"] == "done\n"
    assert len(result["images"]) == 1 and result["images"][0].startswith(b"\x89PNG")


def test_network_connect_is_unreachable(worker):
    r = fails(worker, "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)", "OSError")
    assert "unreachable" in r["error"].lower()


def test_name_resolution_fails(worker):
    fails(worker, "import socket\nsocket.getaddrinfo('example.com', 443)", "gaierror", "OSError")


def test_home_ssh_is_invisible(worker):
    home = str(Path.home())
    r = fails(worker, f"import os\nprint(os.listdir({home!r} + '/.ssh'))", "FileNotFoundError", "PermissionError")
    assert ".ssh" in r["error"]


def test_etc_shadow_is_invisible(worker):
    fails(worker, "print(open('/etc/shadow').read())", "FileNotFoundError", "PermissionError")


def test_workspace_is_invisible(worker, ws):
    secret = ws.root / "tables" / "secret.txt"
    secret.parent.mkdir(parents=True)
    secret.write_text(CANARY)
    r = fails(worker, f"print(open({str(secret)!r}).read())", "FileNotFoundError", "PermissionError")
    assert CANARY not in r["stdout"]


def test_secret_environment_variable_is_scrubbed(worker):
    r = fails(worker, "import os\nprint(sorted(os.environ))\nprint(os.environ['CURATE_TEST_SECRET_TOKEN'])",
              "KeyError")
    assert CANARY not in r["stdout"] and "HOME" in r["stdout"]


def test_writing_outside_tmp_fails_and_the_host_is_untouched(worker, tmp_path):
    target = tmp_path / "pwned.txt"
    fails(worker, "open('/usr/lib/pwned.txt', 'w').write('x')", "OSError")
    fails(worker, f"open({str(target)!r}, 'w').write('x')", "FileNotFoundError", "PermissionError")
    assert not Path("/usr/lib/pwned.txt").exists() and not target.exists()


def test_fork_bomb_hits_the_process_limit_and_leaves_nothing(worker):
    fails(worker, "import os\nwhile True:\n    os.fork()", "ProcessLimit", "LeftoverProcess")
    assert host_processes_of(sample_uid()) == []
    assert worker.run("print(1)")["ok"]


def test_memory_bomb_hits_the_memory_limit(worker):
    fails(worker, "x = bytearray(4 * 1024 ** 3)", "MemoryLimit")
    fails(worker, "chunks = []\nwhile True:\n    chunks.append(bytearray(50 * 1024 ** 2))", "MemoryLimit")


def test_endless_loop_is_killed(worker):
    r = fails(worker, "while True:\n    pass", "Timeout", "CPULimit")
    assert r["wall_s"] < 60


def test_sleeping_forever_hits_the_wall_clock(worker):
    fails(worker, "import time\ntime.sleep(3600)", "Timeout")


def test_huge_output_is_capped(worker):
    r = fails(worker, "while True:\n    print('x' * 10000)", "OutputLimit")
    assert len(r["stdout"]) < 4096 + 200 and "truncated" in r["stdout"]


def test_killing_the_parent_fails_and_the_worker_survives(worker):
    fails(worker, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "PermissionError")
    fails(worker, "import os, signal\nos.kill(1, signal.SIGKILL)\nimport time\ntime.sleep(10)",
          "PermissionError", "Timeout")
    assert worker.run("print('alive')")["stdout"] == "alive\n"


def test_background_process_is_killed_and_reported(worker):
    r = fails(worker, "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\nprint('bye')",
              "LeftoverProcess")
    assert r["stdout"] == "bye\n"
    wait_for(lambda: host_processes_of(sample_uid()) == [], what="the end of the sample's processes")


def test_filling_the_disk_hits_the_limits(worker):
    fails(worker, "f = open('big.bin', 'wb')\nwhile True:\n    f.write(b'x' * 2 ** 20)", "OutputLimit")
    fails(worker, "i = 0\nwhile True:\n    open(f'part{i}', 'wb').write(b'x' * 2 ** 20)\n    i += 1", "DiskLimit")
    assert worker.run("open('again.bin', 'wb').write(b'x' * 2 ** 20)")["ok"]  # each sample gets its space back


def test_import_allow_list():
    with SandboxWorker("bwrap", Limits(wall_s=10), allow_imports=["math", "matplotlib"]) as w:
        assert w.run("import math\nimport matplotlib.pyplot as plt\nplt.plot([math.pi])")["ok"]
        r = w.run("import socket")
        assert r["error_type"] == "ImportError" and "not allowed" in r["error"]


def test_a_dead_worker_is_restarted(worker):
    os.killpg(worker.proc.pid, signal.SIGKILL)
    assert worker.run("print(2)")["stdout"] == "2\n"


def test_unshare_fallback_contains_the_basics(worker):  # `worker` set the canary in our environment
    """Without bubblewrap: namespaces, an unprivileged uid and rlimits (the file system stays visible, by
    permission only; see the README)."""
    # limits that a busy machine cannot reach by importing matplotlib (the samples below fail fast or not at all)
    with SandboxWorker("unshare", Limits(wall_s=60, cpu_s=30, mem_mb=700, nproc=32, fsize_mb=2)) as w:
        assert w.run("import matplotlib.pyplot as plt\nplt.plot([1])")["images"]
        assert "unreachable" in w.run("import socket\nsocket.create_connection(('1.1.1.1', 80))")["error"]
        assert w.run("open('/etc/shadow').read()")["error_type"] == "PermissionError"
        assert w.run("open('/usr/lib/pwned.txt', 'w')")["error_type"] == "PermissionError"
        assert w.run("import os\nos.environ['CURATE_TEST_SECRET_TOKEN']")["error_type"] == "KeyError"
        assert w.run("import os\nwhile True:\n    os.fork()")["error_type"] in ("ProcessLimit", "LeftoverProcess")
        assert w.run("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)")["error_type"] == "PermissionError"
        r = w.run("import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)")
        assert r["error_type"] == "LeftoverProcess"
        assert host_processes_of(sample_uid()) == []


def test_the_same_sample_draws_the_same_picture(worker):
    code = "import numpy as np\nimport matplotlib.pyplot as plt\nplt.scatter(np.random.rand(30), np.random.rand(30))"
    first, second = worker.run(code), worker.run(code)
    assert first["ok"] and first["images"] == second["images"]
