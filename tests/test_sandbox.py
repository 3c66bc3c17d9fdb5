"""Hostile Python samples, by class, under both backends: each is contained and recorded with its reason,
the next benign sample of the same worker does not notice it, and nothing of it reaches the host."""

from __future__ import annotations

import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import pytest

from curate.sandbox import Limits, SandboxWorker, cgroups
from curate.sandbox.backend import kept_under_tmp, uid_base
from curate.sandbox.room import WORKDIR

CANARY = "curate-canary-7f3a9"
LIMITS = Limits(wall_s=60, cpu_s=3, mem_mb=700, nproc=32, fsize_mb=2, output_bytes=4096, tmpfs_mb=16)
# A benign sample that describes the room it finds: what a previous sample left would show here.
PROBE = """import json, os
def ls(p):
    return sorted(os.listdir(p)) if os.path.isdir(p) else None
s = os.statvfs('/tmp')
print(json.dumps({'tmp': ls('/tmp'), 'work': ls('.'), 'shm': ls('/dev/shm'), 'var_tmp': ls('/var/tmp') or [],
                  'free': s.f_bavail * s.f_frsize, 'pids': sorted(int(p) for p in os.listdir('/proc') if p.isdigit()),
                  'sysv': open('/proc/sysvipc/shm').read().splitlines()[1:]}))"""
CLEAN = {"tmp": ["work"], "work": [], "shm": [], "var_tmp": [], "free": 16 << 20, "pids": [1, 2], "sysv": []}


@pytest.fixture(scope="module", params=["bwrap", "unshare"])
def worker(request):
    os.environ["CURATE_TEST_SECRET_TOKEN"] = CANARY  # the sandbox must not pass it on
    with SandboxWorker(request.param, LIMITS) as w:
        yield w
    os.environ.pop("CURATE_TEST_SECRET_TOKEN", None)


@contextmanager
def limits(worker: SandboxWorker, **changes):
    worker.limits = LIMITS.model_copy(update=changes)
    try:
        yield
    finally:
        worker.limits = LIMITS


def host_processes() -> list[int]:
    """Processes on the host that run as one of this worker's sample uids (the worker runs in our process)."""
    base, found = uid_base(), []
    for entry in os.listdir("/proc"):
        try:
            status = Path(f"/proc/{entry}/status").read_text()
        except OSError:
            continue
        uids = next((line.split()[1:] for line in status.splitlines() if line.startswith("Uid:")), [])
        if any(base <= int(u) < base + (1 << 16) for u in uids):
            found.append(int(entry))
    return found


def fails(worker: SandboxWorker, code: str, *types: str) -> dict:
    result = worker.run(code)
    assert not result["ok"], result
    assert result["error_type"] in types, (result["error_type"], result["error"], result["stderr"][-500:])
    assert result["error"], "a failure must say why"
    return result


def room_is_clean(worker: SandboxWorker) -> None:
    """The next sample finds a fresh room, and the host no process of the samples."""
    result = worker.run(PROBE)
    assert result["ok"], result
    kept = {Path(p).parts[2] for p in kept_under_tmp(worker.backend)}  # a checkout under /tmp stays in sight
    assert json.loads(result["stdout"]) == {**CLEAN, "tmp": sorted({"work", *kept})}
    assert host_processes() == []


# ----- what a sample may reach --------------------------------------------------------------------
def test_a_plot_runs_and_its_figure_comes_back(worker):
    result = worker.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.savefig('/etc/out.png')\n"
                        "plt.show()\nprint('done')")
    assert result["ok"], result
    assert result["stdout"] == "done\n"
    assert [f["kind"] for f in result["figures"]] == ["png"] and result["figures"][0]["data"].startswith(b"\x89PNG")


def test_network_is_unreachable(worker):
    r = fails(worker, "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=2)", "OSError")
    assert "unreachable" in r["error"].lower()
    fails(worker, "import socket\nsocket.getaddrinfo('example.com', 443)", "gaierror", "OSError")


def test_host_secrets_are_out_of_reach(worker, tmp_path):
    fails(worker, "print(open('/etc/shadow').read())", "FileNotFoundError", "PermissionError")
    r = fails(worker, f"import os\nprint(os.listdir({str(Path.home())!r} + '/.ssh'))",
              "FileNotFoundError", "PermissionError")
    assert ".ssh" in r["error"]
    secret = tmp_path / "workspace" / "secret.txt"  # a workspace under the host's /tmp
    secret.parent.mkdir()
    secret.write_text(CANARY)
    r = fails(worker, f"print(open({str(secret)!r}).read())", "FileNotFoundError", "PermissionError")
    assert CANARY not in r["stdout"]
    r = fails(worker, "import os\nprint(sorted(os.environ))\nprint(os.environ['CURATE_TEST_SECRET_TOKEN'])", "KeyError")
    assert CANARY not in r["stdout"] and "HOME" in r["stdout"]


def test_the_host_is_read_only_even_where_everyone_may_write(worker):
    shared = Path("/var/lib") / f"curate-test-{os.getpid()}"  # world-writable, outside any /tmp
    shared.mkdir(mode=0o1777)
    shared.chmod(0o1777)
    try:
        fails(worker, f"open({str(shared / 'pwned')!r}, 'w').write('x')", "OSError", "FileNotFoundError")
        fails(worker, "open('/usr/lib/pwned.txt', 'w').write('x')", "OSError", "PermissionError")
        assert list(shared.iterdir()) == [] and not Path("/usr/lib/pwned.txt").exists()
    finally:
        shared.rmdir()


def test_no_capabilities_and_no_setuid_escalation(worker):
    r = worker.run("print(open('/proc/self/status').read())")
    status = dict(line.split(":", 1) for line in r["stdout"].splitlines() if ":" in line)
    assert status["NoNewPrivs"].strip() == "1" and int(status["CapEff"], 16) == 0
    assert int(status["Uid"].split()[0]) >= uid_base()


# ----- results over a channel the sample cannot forge ---------------------------------------------
def test_junk_on_the_result_channel_is_a_protocol_error(worker):
    fails(worker, "import os\nos.write(3, b'\\x00\\x00\\x00\\x05hello')\nos._exit(0)", "ProtocolError")
    room_is_clean(worker)


def test_a_record_with_wrong_types_is_a_protocol_error(worker):
    record = json.dumps({"exit": "0", "error_type": None, "error": None, "notes": [], "figures": []})
    fails(worker, f"import os, struct\nr = {record!r}.encode()\nos.write(3, struct.pack('>I', len(r)) + r)\n"
                  "os._exit(0)", "ProtocolError")


def test_a_giant_frame_is_refused_without_waiting_for_it(worker):
    r = fails(worker, "import os, struct, time\nos.write(3, struct.pack('>I', 2**31))\ntime.sleep(3600)",
              "ProtocolError")
    assert "cap" in r["error"]


def test_ending_without_a_result_is_a_protocol_error(worker):
    fails(worker, "import os\nos._exit(0)", "ProtocolError")


def test_a_forged_image_is_a_protocol_error(worker):
    record = json.dumps({"exit": 0, "error_type": None, "error": None, "notes": [],
                         "figures": [{"kind": "png", "plot_facts": None}]})
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + (50_000).to_bytes(4, "big") * 2 + b"\x08\x06\x00\x00\x00"
    r = fails(worker, f"import os, struct\nfor part in ({record!r}.encode(), {png!r}):\n"
                      f"    os.write(3, struct.pack('>I', len(part)) + part)\nos._exit(0)", "ProtocolError")
    assert "50000×50000" in r["error"]


def test_links_and_fifos_where_results_once_were_are_never_read(worker):
    r = worker.run("import os\nfor name in ('.curate-stdout', '.curate-stderr', '.curate-image-0.png'):\n"
                   "    os.symlink('/etc/shadow', name)\nos.mkfifo('.curate-result.json')\nprint('fine')")
    assert r["ok"] and r["stdout"] == "fine\n" and r["figures"] == []


def test_a_large_plotly_figure_keeps_every_image(worker):
    r = worker.run("import matplotlib.pyplot as plt\nimport plotly.graph_objects as go\nplt.plot([1, 2])\n"
                   "fig = go.Figure(go.Scatter(x=list(range(150000)), y=list(range(150000))))\nfig.show()")
    assert r["ok"], r
    assert [f["kind"] for f in r["figures"]] == ["png", "plotly"] and len(r["figures"][1]["data"]) > 1 << 20


# ----- nothing shared between samples -------------------------------------------------------------
def test_what_a_sample_leaves_in_its_room_is_gone_for_the_next(worker):
    assert worker.run("import os, subprocess\nfor d in ('/tmp/next', '/dev/shm/x', '/var/tmp/x', "
                      "os.path.expanduser('~/.cache/seaborn')):\n"
                      "    if os.path.isdir(os.path.dirname(d)) or d.startswith('/tmp'):\n"
                      "        os.makedirs(d, exist_ok=True)\n"
                      "open(os.path.expanduser('~/.cache/seaborn/tips.csv'), 'w').write('poisoned')\n"
                      f"open({WORKDIR + '/planted.py'!r}, 'w').write('x')\n"  # where the next sample works
                      "subprocess.run(['ipcmk', '-M', '4096'], check=True)")["ok"]
    room_is_clean(worker)


def test_filling_the_disk_and_its_inodes_hurts_only_itself(worker):
    fails(worker, "f = open('big.bin', 'wb')\nwhile True:\n    f.write(b'x' * 2 ** 20)", "OutputLimit")
    fails(worker, "i = 0\nwhile True:\n    open(f'/tmp/part{i}', 'wb').write(b'x' * 2 ** 20)\n    i += 1", "DiskLimit")
    fails(worker, "i = 0\nwhile True:\n    open(f'/dev/shm/{i}', 'w').close()\n    i += 1", "OSError", "DiskLimit")
    room_is_clean(worker)


def test_a_process_left_behind_is_killed_by_membership(worker):
    r = fails(worker, "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\nprint('bye')",
              "LeftoverProcess")
    assert r["stdout"] == "bye\n"
    room_is_clean(worker)


def test_a_zombie_leader_whose_threads_run_on_is_found_and_killed(worker):
    code = ("import ctypes, os, threading, time\npid = os.fork()\nif pid == 0:\n"
            "    threading.Thread(target=lambda: time.sleep(300)).start()\n"
            "    ctypes.CDLL(None).pthread_exit(None)\nprint('parent done')")
    r = fails(worker, code, "LeftoverProcess")
    assert r["stdout"] == "parent done\n"
    room_is_clean(worker)


def test_each_sample_has_its_own_uid(worker):
    uids = [int(worker.run("import os\nprint(os.getuid())")["stdout"]) for _ in range(2)]
    assert uids[0] != uids[1] and min(uids) >= uid_base()


def test_killing_the_parent_fails_and_the_worker_survives(worker):
    fails(worker, "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)", "PermissionError")
    assert worker.run("print('alive')")["stdout"] == "alive\n"


# ----- limits that hold for the whole sample ------------------------------------------------------
def test_memory_limit_holds_for_a_sample_with_several_processes(worker):
    assert cgroups.available(), "cgroup v1 memory and pids must be writable here (make setup runs tests as root)"
    fails(worker, "x = bytearray(4 * 1024 ** 3)", "MemoryLimit")
    fails(worker, "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n"
                  "        b = bytearray(300 * 1024 ** 2)\n        time.sleep(3)\n        os._exit(0)\n"
                  "for _ in range(3):\n    os.wait()", "MemoryLimit")
    room_is_clean(worker)


def test_fork_bomb_hits_the_process_limit_and_leaves_nothing(worker):
    fails(worker, "import os\nwhile True:\n    os.fork()", "ProcessLimit", "LeftoverProcess")
    room_is_clean(worker)


def test_time_limits(worker):
    with limits(worker, cpu_s=1):
        fails(worker, "while True:\n    pass", "CPULimit")
    with limits(worker, wall_s=2):
        fails(worker, "import time\ntime.sleep(3600)", "Timeout")


def test_huge_output_is_capped(worker):
    r = fails(worker, "while True:\n    print('x' * 10000)", "OutputLimit")
    assert len(r["stdout"]) < 4096 + 200 and "truncated" in r["stdout"]


def test_import_allow_list(worker):
    worker.allow_imports = ["math", "matplotlib"]
    try:
        assert worker.run("import math\nimport matplotlib.pyplot as plt\nplt.plot([math.pi])")["ok"]
        r = worker.run("import socket")
        assert r["error_type"] == "ImportError" and "not allowed" in r["error"]
    finally:
        worker.allow_imports = None


def test_the_same_sample_draws_the_same_picture(worker):
    code = "import numpy as np\nimport matplotlib.pyplot as plt\nplt.scatter(np.random.rand(30), np.random.rand(30))"
    first, second = worker.run(code), worker.run(code)
    assert first["ok"] and first["figures"] == second["figures"]


def test_a_dead_worker_is_restarted(worker):
    assert worker.run("print(1)")["ok"]  # started (a test before may have left it stopped)
    os.killpg(worker.proc.pid, signal.SIGKILL)
    assert worker.run("print(2)")["stdout"] == "2\n"
