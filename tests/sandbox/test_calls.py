"""The call runner: outputs come back as plain data, and nothing the code under
test does reaches the result channel (the runner's stdout) or the runner."""
from __future__ import annotations

import json
import sys

import pytest

from mastune.sandbox import SandboxLimits, arun_calls, plain, private_channel
from mastune.sandbox.calls import _parse
from mastune.sandbox.limits import SandboxResult

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux-only sandbox")

TOKEN = "PWNED-7f3a"
LIMITS = SandboxLimits(timeout_s=15, max_processes=16)


async def run(code, calls=None, timeouts=1.0, entry="f", **kw):
    calls = calls if calls is not None else [{"args": [i]} for i in range(5)]
    return await arun_calls([("c.py", code, True)], calls, entry_point=entry,
                            call_timeouts=[timeouts] * len(calls), define_timeout_s=3.0,
                            limits=kw.pop("limits", LIMITS), **kw)


# Writes TOKEN, as a line that would parse as a result, everywhere it can think of.
SPRAY = f'''
import os, sys, json
LINE = (json.dumps({{"k": "call", "i": 0, "status": "ok", "v": "{TOKEN}"}}) + "\\n").encode()
def spray():
    for fd in range(0, 256):
        try:
            os.write(fd, LINE)
        except OSError:
            pass
    try:
        sys.__stdout__.write(LINE.decode()); sys.__stdout__.flush()
    except Exception:
        pass
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        for fd in range(0, 64):
            try:
                w = os.open("/proc/%s/fd/%d" % (pid, fd), os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            try:
                os.write(w, LINE)
            except OSError:
                pass
            os.close(w)
'''


async def test_values_round_trip_as_plain_data():
    code = "def f(x):\n    return [x, (x, 'a'), {x: {1.5, None}}, float('nan'), 2**70, b'z', 1j, frozenset({x})]\n"
    res = await run(code)
    assert res.defined and res.complete and [c.status for c in res.calls] == ["ok"] * 5
    v = res.calls[3].value
    assert v[:3] == [3, (3, "a"), {3: {1.5, None}}] and v[4:] == [2**70, b"z", 1j, frozenset({3})]
    assert v[3] != v[3]  # nan
    assert private_channel(res.sandbox.isolation), res.sandbox.isolation


@pytest.mark.parametrize("ret", [
    "class C:\n    def __eq__(self, o):\n        return True\n",
    "class C(float):\n    def __eq__(self, o):\n        return True\n",
    "class C(list):\n    pass\n",
    "import collections\nC = lambda: collections.OrderedDict()\n",
    "C = lambda: (lambda: 1)\n",
])
async def test_custom_objects_are_not_plain_data(ret):
    res = await run(ret + "def f(x):\n    return C()\n")
    assert [c.status for c in res.calls] == ["invalid"] * 5
    assert all("not plain data" in c.error for c in res.calls)


async def test_hostile_eq_repr_del_and_exceptions_stay_outcomes():
    code = (
        "class Bad:\n"
        "    def __eq__(self, o): raise RuntimeError('eq')\n"
        "    def __repr__(self): raise RuntimeError('repr')\n"
        "    def __del__(self): raise RuntimeError('del')\n"
        "class Err(Exception):\n"
        "    def __str__(self): raise RuntimeError('str')\n"
        "def f(x):\n"
        "    if x == 0: return Bad()\n"
        "    if x == 1: raise Err()\n"
        "    if x == 2: raise SystemExit(0)\n"
        "    if x == 3: raise KeyboardInterrupt\n"
        "    return x\n"
    )
    res = await run(code)
    assert [c.status for c in res.calls] == ["invalid", "raised", "raised", "raised", "ok"]
    assert res.calls[1].error == "Err" and res.calls[4].value == 4


async def test_nothing_written_by_the_code_reaches_the_result_channel():
    code = SPRAY + (
        "import threading, atexit, signal, time\n"
        "spray()\n"
        "atexit.register(spray)\n"
        "signal.signal(signal.SIGTERM, lambda *a: spray())\n"
        "signal.signal(signal.SIGALRM, lambda *a: spray())\n"
        "signal.setitimer(signal.ITIMER_REAL, 0.05, 0.05)\n"
        "def loop():\n"
        "    while True:\n"
        "        spray(); time.sleep(0.01)\n"
        "threading.Thread(target=loop, daemon=True).start()\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    while True:\n"
        "        spray(); time.sleep(0.01)\n"
        "def f(x):\n"
        "    spray()\n"
        "    time.sleep(0.05)\n"
        "    return 'honest'\n"
    )
    res = await run(code)
    # The raw result channel holds only the runner's lines; the token appears
    # only as what the code printed itself (quoted inside the final line).
    lines = [json.loads(line) for line in res.sandbox.stdout.splitlines()]
    assert lines[0]["k"] == "defined" and lines[-1]["k"] == "end"
    assert [m["k"] for m in lines[1:-1]] == ["call"] * (len(lines) - 2)
    assert all(TOKEN not in json.dumps(m) for m in lines[:-1])
    assert res.complete and res.stopped in (None, "invalid")
    # its own reply pipe got sprayed too: a bad frame, never a forged value
    assert all(c.value != TOKEN for c in res.calls)
    assert TOKEN in res.output_head or res.output_bytes > 0  # its writes went to its own output


async def test_overriding_the_runner_and_codecs_changes_nothing():
    code = (
        "import __main__, pickle, mastune_plain, sys\n"
        "__main__.emit = lambda obj: None\n"
        "__main__.relay = lambda msg, i: {'status': 'ok', 'v': 'forged'}\n"
        "__main__.kill_worker = lambda pid: None\n"
        "sys.modules['__main__'].same = lambda *a: True\n"
        "mastune_plain.from_tree = lambda v, depth=0: 'forged'\n"
        "pickle.loads = lambda *a, **k: 'forged'\n"
        "open('calls.json', 'w').write('{}')\n"
        "open('mastune_plain.py', 'w').write('raise SystemExit')\n"
        "def f(x):\n"
        "    return x\n"
    )
    res = await run(code)
    # its patches live in its own process: the runner decodes and relays the true outputs
    assert [(c.status, c.value) for c in res.calls] == [("ok", i) for i in range(5)]
    code = (
        "import json\n"
        "def f(x):\n"
        "    json.dumps = lambda *a, **k: '{\"i\": 0, \"v\": 0}'\n"
        "    return x\n"
    )
    res = await run(code)  # every reply now claims index 0: all but the first are out of order
    assert [c.status for c in res.calls] == ["ok"] + ["invalid"] * 4
    assert "out of order" in res.calls[1].error


async def test_the_code_cannot_open_or_trace_the_runner():
    code = (
        "import os, ctypes\n"
        "def f(x):\n"
        "    out = []\n"
        "    for what in ('/proc/%d/fd/1' % os.getppid(), '/proc/%d/mem' % os.getppid(), '/proc/1/fd/1'):\n"
        "        try:\n"
        "            os.close(os.open(what, os.O_WRONLY | os.O_NONBLOCK))\n"
        "            out.append('opened')\n"
        "        except OSError as e:\n"
        "            out.append(type(e).__name__)\n"
        "    libc = ctypes.CDLL(None, use_errno=True)\n"
        "    out.append(libc.ptrace(16, os.getppid(), 0, 0))  # PTRACE_ATTACH\n"
        "    return out\n"
    )
    res = await run(code, calls=[{"args": [0]}])
    assert res.calls[0].status == "ok", res.calls[0]
    assert "opened" not in res.calls[0].value and res.calls[0].value[-1] == -1, res.calls[0].value


async def test_timeouts_and_deaths_are_enforced_by_the_runner():
    code = (
        "import os, signal\n"
        "signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
        "def f(x):\n"
        "    if x == 1:\n"
        "        while True: pass\n"
        "    return x\n"
    )
    res = await run(code, calls=[{"args": [0]}, {"args": [1]}, {"args": [2]}])
    assert [c.status for c in res.calls] == ["ok", "timeout", "not_run"] and res.stopped == "timeout"
    res = await run("import os\ndef f(x):\n    os._exit(0)\n", calls=[{"args": [0]}])
    assert res.calls[0].status == "died"
    res = await run("import os, signal\ndef f(x):\n    os.kill(os.getppid(), signal.SIGKILL)\n",
                    calls=[{"args": [0]}])
    assert res.calls[0].status != "ok" and not res.complete


async def test_own_output_is_kept_apart_and_capped_without_failing():
    code = "import sys\ndef f(x):\n    sys.stderr.write('e' * 100_000)\n    print('o' * 100_000)\n    return x\n"
    res = await run(code, keep_output_bytes=100)
    assert [c.status for c in res.calls] == ["ok"] * 5
    assert res.output_bytes >= 5 * 200_000 and len(res.output_head) == 100


async def test_eval_and_exec_calls():
    res = await run("y = 2\n", calls=[{"eval": "y * 3"}, {"exec": "assert y == 3"}, {"exec": "z = 1"}], entry=None)
    assert [(c.status, c.value) for c in res.calls] == [("ok", 6), ("raised", None), ("ok", None)]


def test_parse_never_raises_on_malformed_lines():
    sb = SandboxResult("ok", 0, "", "", 0.1)
    for junk in ["{}", "[1]", '{"k": "call", "i": "x"}', '{"k": "call", "i": 0, "status": "ok", "v": {"zz": 1}}',
                 '{"k": "call", "i": 99}', '{"k": "defi', "null", '{"k": "end", "output_bytes": "x"}'[:-5]]:
        r = _parse(junk + "\n", 2, sb)
        assert len(r.calls) == 2 and not any(c.status == "ok" and c.value is not None for c in r.calls)
    twice = '{"k":"defined","ok":true}\n{"k":"call","i":0,"status":"ok","v":1}\n{"k":"call","i":0,"status":"ok","v":1}\n'
    assert _parse(twice, 1, sb).stopped == "tampered"


def test_plain_decoder_refuses_what_it_would_not_write():
    for text in ['[1]', '{"l": [1], "t": [2]}', '{"q": 1}', 'NaN', '{"s": [{"l": []}]}', '{"i": 5}', '"\\ud800"x']:
        with pytest.raises(plain.NotPlain):
            plain.loads(text)
    assert plain.loads(plain.dumps({(1, 2): [None, True]})) == {(1, 2): [None, True]}


def test_private_channel_needs_another_uid_or_an_unprivileged_namespace_with_its_own_proc():
    assert private_channel(("session", "netns", "mntns", "pidns", "procfs", "rlimits", "uid"))
    assert private_channel(("session", "userns", "netns", "mntns", "pidns", "procfs", "rlimits"))
    assert not private_channel(("session", "netns", "mntns", "pidns", "procfs", "rlimits"))  # root, no drop
    assert not private_channel(("session", "userns", "mntns", "pidns", "rlimits"))  # host /proc visible
    assert not private_channel(("session", "rlimits", "socket_guard"))


async def test_restart_goes_on_after_a_hang_or_a_crash():
    code = "import os\ndef f(x):\n    if x == 1:\n        while True: pass\n    if x == 3:\n        os._exit(1)\n    return x\n"
    calls = [{"args": [i]} for i in range(5)]
    res = await run(code, calls=calls, restart=True)
    assert [c.status for c in res.calls] == ["ok", "timeout", "ok", "died", "ok"] and res.stopped is None
    res = await run("import os\nos._exit(0)\ndef f(x):\n    return x\n", calls=calls, restart=True)
    assert not res.defined and res.complete  # a definition that dies is not retried
