"""Tests for mastune.sandbox (host side, bootstrap, limits).

Hostile programs here are always run under tight caps (small process/memory/
output limits, timeouts of 1-2 s) so a containment bug cannot hurt the host.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import time
import uuid

import pytest

from mastune.sandbox import bootstrap
from mastune.sandbox import host as sb
from mastune.sandbox import (
    SandboxLimits,
    SandboxResult,
    arun_python,
    pids_of_uid,
    run_python,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only sandbox")

IS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def probe() -> SandboxResult:
    r = run_python("print('probe')")
    assert r.ok, r
    return r


def _procs_with(marker: str) -> list[int]:
    """Live processes whose command line contains ``marker`` (zombies have none)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                if marker.encode() in f.read():
                    found.append(int(name))
        except OSError:
            pass
    return found


def _assert_nothing_left(r: SandboxResult, marker: str | None = None) -> None:
    # The library promises this on return; the short poll only absorbs the
    # kernel finishing SIGKILLs already delivered.
    end = time.monotonic() + 1.0
    while True:
        left_uid = pids_of_uid(r.sandbox_uid) if r.sandbox_uid is not None else []
        left_marker = _procs_with(marker) if marker else []
        if not left_uid and not left_marker:
            return
        if time.monotonic() > end:
            pytest.fail(f"sandbox processes survived: uid={left_uid} marker={left_marker}")
        time.sleep(0.05)


# --------------------------------------------------------------------------- normal use


def test_stdout_and_stderr_round_trip_exactly() -> None:
    payload = "héllo wörld ✓\r\nsecond\tline\n" * 5000 + "no newline at end"
    code = (
        "import sys\n"
        f"sys.stdout.write({payload!r})\n"
        "sys.stderr.write('to stderr\\n')\n"
    )
    r = run_python(code)
    assert r.status == "ok" and r.ok and r.returncode == 0
    assert r.stdout == payload
    assert r.stderr == "to stderr\n"
    assert r.duration_s > 0


def test_stdin_files_and_staged_modules() -> None:
    code = (
        "import sys, os, json\n"
        "import helper\n"
        "data = sys.stdin.read()\n"
        "print(json.dumps({'stdin': data[::-1], 'txt': open('sub/dir/in.txt').read(),\n"
        "                  'blob': list(open('blob.bin', 'rb').read()), 'helper': helper.f(2),\n"
        "                  'cwd_is_home': os.getcwd() == os.environ['HOME']}))\n"
    )
    r = run_python(
        code,
        stdin="abc\ndef",
        files={"sub/dir/in.txt": "text ✓", "blob.bin": bytes([0, 255, 7]), "helper.py": "def f(x):\n    return x * 21\n"},
    )
    assert r.ok, r.stderr
    out = json.loads(r.stdout)
    assert out == {"stdin": "fed\ncba", "txt": "text ✓", "blob": [0, 255, 7], "helper": 42, "cwd_is_home": True}


def test_runs_unprivileged_when_root(probe: SandboxResult) -> None:
    r = run_python("import os; print(os.getuid(), os.geteuid(), os.getgroups())")
    assert r.ok, r.stderr
    if IS_ROOT and "uid" in probe.isolation:
        assert r.sandbox_uid not in (None, 0)
        assert r.stdout.split()[:2] == [str(r.sandbox_uid)] * 2
    if not IS_ROOT:
        assert r.stdout.split()[0] == str(os.getuid())


def test_nonzero_exit_is_error_with_stderr() -> None:
    r = run_python("print('before')\nraise ValueError('boom')")
    assert r.status == "error" and not r.ok
    assert r.returncode == 1
    assert r.stdout == "before\n"
    assert "ValueError: boom" in r.stderr

    r = run_python("import sys; sys.exit(3)")
    assert (r.status, r.returncode) == ("error", 3)


def test_bad_file_names_are_rejected() -> None:
    for bad in ("../escape.txt", "/etc/passwd", "a/../../b", "main.py", ""):
        with pytest.raises(ValueError):
            run_python("pass", files={bad: "x"})


def test_limits_validation_and_defaults() -> None:
    assert SandboxLimits(timeout_s=2.5).effective_cpu_s == 4
    assert SandboxLimits(cpu_s=1.2).effective_cpu_s == 2
    with pytest.raises(ValueError):
        SandboxLimits(timeout_s=0)
    with pytest.raises(ValueError):
        SandboxLimits(memory_mb=0)


def test_env_is_clean_and_hash_seed_fixed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTUNE_TEST_SECRET", "x")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-not-leak")
    code = "import os, json\nprint(json.dumps({'env': dict(os.environ), 'h': hash('abc'), 'cwd': os.getcwd()}))"
    r1, r2 = run_python(code), run_python(code)
    assert r1.ok and r2.ok, r1.stderr
    o1, o2 = json.loads(r1.stdout), json.loads(r2.stdout)
    env = o1["env"]
    assert "MASTUNE_TEST_SECRET" not in env and "OPENAI_API_KEY" not in env
    assert "sk-should-not-leak" not in r1.stdout
    assert env["PYTHONHASHSEED"] == "0" and env["HOME"] == o1["cwd"]
    assert set(env) <= set(sb._clean_env("/x"))
    assert o1["h"] == o2["h"]  # deterministic hashing across runs


# --------------------------------------------------------------------------- hostile code


def test_infinite_loop_times_out() -> None:
    t0 = time.monotonic()
    r = run_python("while True:\n    pass", limits=SandboxLimits(timeout_s=1.0))
    assert r.status == "timeout" and r.returncode is None
    assert 0.9 <= r.duration_s < 2.5
    assert time.monotonic() - t0 < 4.0
    _assert_nothing_left(r)


def test_cpu_limit_is_reported_as_timeout() -> None:
    # wall timeout far away: RLIMIT_CPU (SIGXCPU) must stop it first
    r = run_python("while True:\n    pass", limits=SandboxLimits(timeout_s=8.0, cpu_s=1))
    assert r.status == "timeout"
    assert r.returncode is not None and r.returncode < 0
    assert r.duration_s < 6.0


def test_memory_hog_is_reported(probe: SandboxResult) -> None:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(10 * 1024 * 1024))"
    r = run_python(code, limits=SandboxLimits(memory_mb=256, timeout_s=10))
    assert r.status == "memory", r
    assert "MemoryError" in r.stderr
    r = run_python("x = [0] * (10 * 1024**3)", limits=SandboxLimits(memory_mb=256))
    assert r.status == "memory"


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_output_bomb_is_stopped(stream: str) -> None:
    code = f"import sys\nblock = 'x' * (1 << 20)\nwhile True:\n    sys.{stream}.write(block)"
    t0 = time.monotonic()
    r = run_python(code, limits=SandboxLimits(max_output_bytes=100_000, timeout_s=10))
    assert r.status == "output_limit" and r.returncode is None
    assert len(getattr(r, stream)) == 100_000
    assert time.monotonic() - t0 < 3.0
    _assert_nothing_left(r)


def test_large_output_on_both_streams_below_cap() -> None:
    # both pipes filled at once: must not deadlock
    code = "import sys\nfor i in range(300):\n    print('o' * 2000)\n    print('e' * 2000, file=sys.stderr)"
    r = run_python(code)
    assert r.ok
    assert len(r.stdout) == len(r.stderr) == 300 * 2001


def test_fork_bomb_is_contained(probe: SandboxResult) -> None:
    if IS_ROOT and "uid" not in probe.isolation:
        pytest.skip("cannot drop root here, so RLIMIT_NPROC would not apply")
    # Each successful fork writes one 'c'; children fork too and one escapes
    # the process group with setsid() to prove the final sweep catches it.
    code = (
        "import os, sys, time\n"
        "print(os.getcwd(), flush=True)\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "while True:\n"
        "    try:\n"
        "        if os.fork() == 0:\n"
        "            os.write(1, b'c')\n"
        "    except OSError:\n"
        "        time.sleep(0.01)\n"
    )
    limits = SandboxLimits(timeout_s=2.0, max_processes=12, memory_mb=128)
    r = run_python(code, limits=limits)
    assert r.status == "timeout"
    assert r.duration_s < 4.0
    workdir = r.stdout.splitlines()[0]
    assert r.stdout.count("c") <= limits.max_processes  # never more live processes than the cap
    _assert_nothing_left(r, marker=workdir)


def test_background_processes_do_not_survive() -> None:
    marker = f"mastune-bg-{uuid.uuid4().hex}"
    code = (
        "import os, subprocess, sys\n"
        f"sleeper = [sys.executable, '-c', 'import time; time.sleep(60)', {marker!r}]\n"
        "subprocess.Popen(sleeper, start_new_session=True, stdout=subprocess.DEVNULL)\n"
        "subprocess.Popen(sleeper)  # keeps our stdout open\n"
        "if os.fork() == 0:  # classic daemon: double fork + setsid\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execv(sys.executable, sleeper)\n"
        "    os._exit(0)\n"
        "print('main done')\n"
    )
    t0 = time.monotonic()
    r = run_python(code, limits=SandboxLimits(timeout_s=10))
    assert r.ok, r.stderr
    assert r.stdout == "main done\n"
    assert time.monotonic() - t0 < 5.0  # did not wait for the sleepers
    _assert_nothing_left(r, marker=marker)


def test_network_is_blocked(probe: SandboxResult) -> None:
    assert {"netns", "socket_guard"} & set(probe.isolation)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        code = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')\nprint('CONNECTED')"
        r = run_python(code)
        assert r.status == "error"
        assert "CONNECTED" not in r.stdout
        assert "Error" in r.stderr  # OSError (no route) or PermissionError (guard)
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody ever connected
    r = run_python("import socket\ns = socket.socket()\ns.connect(('1.1.1.1', 53))")
    assert r.status == "error"


def test_socket_guard_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sb, "_DISABLED_MECHANISMS", frozenset({"netns"}))
    code = (
        "import asyncio, socket\n"
        "async def f():\n"
        "    return 7\n"
        "print(asyncio.run(f()))  # AF_UNIX self-pipe still allowed\n"
        "socket.create_connection(('127.0.0.1', 9), timeout=1)\n"
    )
    r = run_python(code)
    assert "socket_guard" in r.isolation and "netns" not in r.isolation
    assert r.status == "error" and r.stdout == "7\n"
    assert "PermissionError" in r.stderr and "network access is disabled" in r.stderr


def test_cannot_write_or_delete_outside_workdir(tmp_path, probe: SandboxResult) -> None:
    if IS_ROOT and "uid" not in probe.isolation and "mntns" not in probe.isolation:
        pytest.skip("running as root without namespaces: the filesystem is not protected here")
    os.chmod(tmp_path, 0o755)
    keep = tmp_path / "keep.txt"
    keep.write_text("precious")
    os.chmod(keep, 0o644)
    targets = {
        "new_in_tmp_path": ("write", str(tmp_path / "new.txt")),
        "overwrite_keep": ("write", str(keep)),
        "delete_keep": ("delete", str(keep)),
        "write_usr": ("write", "/usr/mastune-sandbox-probe"),
        "mkdir_root": ("mkdir", "/mastune-sandbox-probe"),
    }
    code = (
        "import json, os\n"
        f"targets = {targets!r}\n"
        "out = {}\n"
        "for name, (op, path) in targets.items():\n"
        "    try:\n"
        "        if op == 'write':\n"
        "            open(path, 'w').write('pwned')\n"
        "        elif op == 'delete':\n"
        "            os.remove(path)\n"
        "        else:\n"
        "            os.mkdir(path)\n"
        "        out[name] = 'SUCCEEDED'\n"
        "    except OSError as e:\n"
        "        out[name] = type(e).__name__\n"
        "open('inside.txt', 'w').write('fine')  # own directory is writable\n"
        "out['inside'] = open('inside.txt').read()\n"
        "print(json.dumps(out))\n"
    )
    r = run_python(code)
    assert r.ok, r.stderr
    out = json.loads(r.stdout)
    assert out.pop("inside") == "fine"
    assert all(v in ("PermissionError", "FileNotFoundError", "OSError") for v in out.values()), out
    assert keep.read_text() == "precious"
    assert not (tmp_path / "new.txt").exists()
    assert not os.path.exists("/usr/mastune-sandbox-probe")
    assert not os.path.exists("/mastune-sandbox-probe")


def test_private_filesystem_view(probe: SandboxResult) -> None:
    if "mntns" not in probe.isolation:
        pytest.skip("no mount namespace available here")
    marker = f"mastune-tmp-{uuid.uuid4().hex}"
    host_marker = f"/tmp/mastune-host-{uuid.uuid4().hex}"
    open(host_marker, "w").close()
    with open("/proc/self/mountinfo") as f:
        mounts_before = f.read()
    code = (
        "import os, json\n"
        f"open('/tmp/{marker}', 'w').write('x')\n"
        "print(json.dumps({'tmp': os.listdir('/tmp'), 'cwd': os.getcwd()}))\n"
    )
    r = run_python(code)
    assert r.ok, r.stderr
    out = json.loads(r.stdout)
    # The host's /tmp is hidden. (Python install paths under /tmp, e.g. a venv or a
    # checkout there, are bind-mounted back in, so they may be listed too.)
    assert marker in out["tmp"] and os.path.basename(out["cwd"]) in out["tmp"]
    assert os.path.basename(host_marker) not in out["tmp"]
    os.unlink(host_marker)
    assert not os.path.exists(f"/tmp/{marker}")
    assert not os.path.exists(out["cwd"])  # staging dir removed afterwards
    with open("/proc/self/mountinfo") as f:
        assert f.read() == mounts_before  # no mount leaked to the host


# --------------------------------------------------------------------------- asyncio


@pytest.mark.asyncio
async def test_concurrent_async_runs() -> None:
    code = "import sys, time\ntime.sleep(1.5)\nprint('run', sys.stdin.read())"
    t0 = time.monotonic()
    results = await asyncio.gather(*(arun_python(code, stdin=str(i)) for i in range(4)))
    wall = time.monotonic() - t0
    assert [r.stdout for r in results] == [f"run {i}\n" for i in range(4)]
    assert all(r.ok for r in results)
    assert wall < 4.5  # serial would be >= 6 s
    uids = [r.sandbox_uid for r in results if r.sandbox_uid is not None]
    assert len(set(uids)) == len(uids)  # one private uid per concurrent sandbox


@pytest.mark.asyncio
async def test_async_cancel_kills_the_sandbox() -> None:
    marker = f"mastune-cancel-{uuid.uuid4().hex}"
    code = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', 'while True: pass', {marker!r}])"
    task = asyncio.create_task(arun_python(code, limits=SandboxLimits(timeout_s=30)))
    deadline = time.monotonic() + 5
    while not _procs_with(marker) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _procs_with(marker), "sandboxed program never started"
    t0 = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - t0 < 3.0
    end = time.monotonic() + 1.0
    while _procs_with(marker) and time.monotonic() < end:
        await asyncio.sleep(0.05)
    assert not _procs_with(marker)


def test_checkout_and_other_non_os_dirs_are_hidden(probe: SandboxResult) -> None:
    if "mntns" not in probe.isolation:
        pytest.skip("no mount namespace available here")
    here = os.path.realpath(__file__)  # this checkout: code, data, maybe keys
    if here.split("/")[1] in bootstrap._OS_TOPS - {"tmp"}:
        pytest.skip("the checkout lives inside an OS directory, which stays visible")
    code = (
        "try:\n"
        f"    open({here!r}).read()\n"
        "    print('read')\n"
        "except OSError as e:\n"
        "    print('hidden', type(e).__name__)\n"
    )
    r = run_python(code)
    assert r.ok, r.stderr
    assert r.stdout.startswith("hidden"), r.stdout


# --------------------------------------------------------------------------- masks, inode caps, stale folders


def test_run_and_top_level_files_are_masked(probe: SandboxResult) -> None:
    if "mntns" not in probe.isolation or not IS_ROOT:
        pytest.skip("needs a mount namespace and root (to plant files in /run and /)")
    tag = uuid.uuid4().hex
    run_file, top_file = f"/run/mastune-probe-{tag}", f"/mastune-probe-{tag}"
    sock_path = f"/run/mastune-probe-{tag}.sock"
    for p in (run_file, top_file):
        with open(p, "w") as f:
            f.write("host secret")
        os.chmod(p, 0o666)
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(sock_path)
    os.chmod(sock_path, 0o777)
    srv.listen(1)
    try:
        code = (
            "import json, os, socket\n"
            "out = {}\n"
            f"for name, path in (('run', {run_file!r}), ('top', {top_file!r})):\n"
            "    try:\n"
            "        out[name] = open(path).read()\n"
            "    except OSError as e:\n"
            "        out[name] = type(e).__name__\n"
            "    try:\n"
            "        open(path, 'w').write('pwned')\n"
            "        out[name + '_write'] = 'ok'\n"
            "    except OSError as e:\n"
            "        out[name + '_write'] = type(e).__name__\n"
            "s = socket.socket(socket.AF_UNIX)\n"
            "try:\n"
            f"    s.connect({sock_path!r})\n"
            "    out['sock'] = 'connected'\n"
            "except OSError as e:\n"
            "    out['sock'] = type(e).__name__\n"
            "try:\n"
            f"    open('/run/mastune-new-{tag}', 'w').write('x')\n"
            "    out['new'] = 'ok'\n"
            "except OSError as e:\n"
            "    out['new'] = type(e).__name__\n"
            "print(json.dumps(out))\n"
        )
        r = run_python(code)
        assert r.ok, r.stderr
        out = json.loads(r.stdout)
        assert out["run"] in ("FileNotFoundError", "PermissionError") and out["top"] in ("", "PermissionError"), out
        assert out["sock"] != "connected", out
        for p in (run_file, top_file):
            assert open(p).read() == "host secret"
        assert not os.path.exists(f"/run/mastune-new-{tag}")
    finally:
        srv.close()
        for p in (run_file, top_file, sock_path):
            if os.path.exists(p):
                os.unlink(p)


def test_number_of_files_is_bounded(probe: SandboxResult) -> None:
    if "mntns" not in probe.isolation:
        pytest.skip("no mount namespace available here")
    code = (
        "import os, sys\n"
        "out = []\n"
        "for top in ('/tmp', '.'):\n"
        "    n = 0\n"
        "    try:\n"
        "        while n < 5000:\n"
        "            open(os.path.join(top, 'f%d' % n), 'w').close()\n"
        "            n += 1\n"
        "    except OSError as e:\n"
        "        out.append((n, e.errno))\n"
        "    else:\n"
        "        out.append((n, 0))\n"
        "print(out)\n"
    )
    r = run_python(code, limits=SandboxLimits(max_files=300))
    assert r.ok, r.stderr
    counts = eval(r.stdout)
    assert all(250 <= n <= 400 and err == 28 for n, err in counts), counts  # ENOSPC near the cap


def test_stale_staging_folders_are_removed_on_the_next_start(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import tempfile

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid is free now (not reused within the test, in practice)
    top = tempfile.gettempdir()
    stale = os.path.join(top, f"mastune-sbx-{dead.pid}-stale{uuid.uuid4().hex[:6]}")
    alive = os.path.join(top, f"mastune-sbx-{os.getpid()}-alive{uuid.uuid4().hex[:6]}")
    for d in (stale, alive):
        os.makedirs(os.path.join(d, "sub"))
        with open(os.path.join(d, "sub", "expected.txt"), "w") as f:
            f.write("x")
    try:
        monkeypatch.setattr(sb, "_cleaned", False, raising=False)
        assert run_python("print(1)").ok
        assert not os.path.exists(stale)
        assert os.path.exists(alive)  # a live process's folder is left alone
    finally:
        import shutil

        shutil.rmtree(stale, ignore_errors=True)
        shutil.rmtree(alive, ignore_errors=True)
