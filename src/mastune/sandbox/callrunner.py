"""Call runner: staged into the sandbox as ``main.py`` (stdlib + ``mastune_plain`` only).

Two processes, so that the code under test never runs where results are written:

- the *runner* (this script's process) reads its whole configuration first,
  makes itself non-dumpable (no other process of its uid may open its fds via
  ``/proc/PID/fd`` or ptrace it), then forks a worker. It never executes any of
  the code under test. It times every call, kills the worker on a timeout, and
  writes one JSON line per outcome to its stdout, the channel the library reads.
- the *worker* gets fresh pipes (its stdout/stderr go to a capped buffer that
  the runner drains; its replies go to a private pipe), closes every other fd,
  then defines the code and calls it on each input. It sends each output as
  plain data (see ``plain.py``) in a length-prefixed frame.

The runner decodes each frame strictly and re-encodes it itself, so what
reaches the library is plain data or a failure, whatever the worker writes.
Nothing here compares outputs: the expected values are never in the sandbox.

Lines written (``k`` = kind): ``defined`` {ok, error, t}; ``call`` {i, status,
v | error, t} with status ok / raised / invalid / timeout / died; ``end``
{output_bytes, output_head, stopped}.
"""
import copy
import json
import os
import select
import signal
import struct
import sys
import time

import mastune_plain as plain

CONFIG = "calls.json"
HEADER = struct.Struct(">I")
WORKER_PATH = None  # sys.path for the code under test (the runner's own is narrower)


# ---------------------------------------------------------------- inputs (as stored by evalplus)


def _deep_tuple(x):
    return tuple(_deep_tuple(i) for i in x) if isinstance(x, list) else x


TRANSFORMS = {
    None: lambda a: a,
    "args_tuple": lambda a: [tuple(x) for x in a],
    "args_list_of_tuples": lambda a: [[tuple(y) for y in x] for x in a],
    "first_list_of_tuples": lambda a: [[tuple(y) for y in a[0]]] + a[1:],
    "second_tuple": lambda a: [a[0], tuple(a[1])] + a[2:],
    "first_list_of_sets": lambda a: [[set(y) if isinstance(y, list) and y else {} for y in a[0]]],
    "float_complex": lambda a: [float(a[0]), complex(a[1])],
    "first_tuple": lambda a: [tuple(a[0])] + a[1:],
    "args_tuple_of_tuples": lambda a: [tuple(tuple(y) for y in x) for x in a],
    "first_tuple_of_mixed": lambda a: [tuple(tuple(y) if isinstance(y, list) else y for y in a[0])],
    "first_dict_tuple_values": lambda a: [{k: tuple(v) for k, v in a[0].items()}] + a[1:],
    "first_complex": lambda a: [complex(a[0])],
    "deep_tuple": lambda a: list(_deep_tuple(a)),
}

# How an output is projected before it is sent (evalplus oracles on "is it None?").
PROJECTIONS = {
    None: lambda out: out,
    "is_not_none": lambda out: out is not None,
    "bool_or_not_none": lambda out: out if type(out) is bool else out is not None,
}


def short(e, n=300):
    try:
        return (type(e).__name__ + (": " + str(e) if str(e) else ""))[:n]
    except BaseException:  # a hostile __str__
        return type(e).__name__[:n]


def unnumpy(x, depth=0):
    """numpy scalars -> their Python value (anything else is left for plain to judge)."""
    t = type(x)
    if t.__module__ == "numpy" and getattr(x, "ndim", None) == 0 and depth < 100:
        return x.item()
    if t is list or t is tuple:
        return t(unnumpy(v, depth + 1) for v in x) if depth < 100 else x
    return x


# ---------------------------------------------------------------- worker (runs the code under test)


def send(fd, obj):
    data = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    data = HEADER.pack(len(data)) + data
    while data:
        data = data[os.write(fd, data):]


def worker(cfg, sources, fd, first):
    ns = {"__name__": "__solution__", "__builtins__": __builtins__}
    try:
        for name, text, required in sources:
            try:
                exec(compile(text, name, "exec"), ns)
            except BaseException:
                if required:
                    raise
        entry = cfg.get("entry_point")
        fn = ns.get(entry) if entry else None
        if entry and not callable(fn):
            raise NameError("entry point %r is not defined" % entry)
    except BaseException as e:
        send(fd, {"defined": False, "error": short(e)})
        os._exit(0)
    send(fd, {"defined": True})
    transform = TRANSFORMS[cfg.get("transform")]
    project = PROJECTIONS[cfg.get("project")]
    for i, call in enumerate(cfg["calls"]):
        if i < first:
            continue
        try:
            if "args" in call:
                out = fn(*transform(copy.deepcopy(call["args"])))
            elif "eval" in call:
                out = eval(call["eval"], ns)
            else:
                exec(call["exec"], ns)
                out = None
            out = project(out)
        except BaseException as e:
            send(fd, {"i": i, "raised": short(e)})
            continue
        try:
            tree = plain.to_tree(unnumpy(out))
        except BaseException as e:
            send(fd, {"i": i, "invalid": short(e)})
            continue
        send(fd, {"i": i, "v": tree})
    os._exit(0)


def start_worker(cfg, sources, first=0):
    rep_r, rep_w = os.pipe()
    out_r, out_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.setpgid(0, 0)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out_w, 1)
            os.dup2(out_w, 2)
            os.dup2(rep_w, 3)
            os.closerange(4, 1 << 16)  # the runner's stdout (the result channel) is gone from here
            signal.signal(signal.SIGPIPE, signal.SIG_DFL)
            if WORKER_PATH is not None:
                sys.path[:] = WORKER_PATH
            worker(cfg, sources, 3, first)
        finally:
            os._exit(0)
    os.close(rep_w)
    os.close(out_w)
    return pid, rep_r, out_r


# ---------------------------------------------------------------- runner (trusted side)


def emit(obj):
    data = (json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n").encode()
    while data:
        data = data[os.write(1, data):]


def no_dumping():
    import ctypes

    if ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0) != 0:  # PR_SET_DUMPABLE = 4
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


class Frames:
    """Length-prefixed frames read from the worker; never trusts a length."""

    def __init__(self, max_bytes):
        self.buf = bytearray()
        self.max = max_bytes

    def feed(self, chunk):
        self.buf += chunk

    def next(self):
        """A decoded message, None when incomplete; raises ValueError on a bad frame."""
        if len(self.buf) < HEADER.size:
            return None
        (n,) = HEADER.unpack(self.buf[: HEADER.size])
        if n > self.max:
            raise ValueError("a reply of %d bytes is over the %d-byte limit" % (n, self.max))
        if len(self.buf) < HEADER.size + n:
            return None
        data = bytes(self.buf[HEADER.size : HEADER.size + n])
        del self.buf[: HEADER.size + n]
        msg = json.loads(data, parse_constant=plain._no_constants)
        if type(msg) is not dict:
            raise ValueError("a reply that is not an object")
        return msg


def kill_worker(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def relay(msg, i):
    """The runner's own line for reply ``msg`` to call ``i`` (decoded, then re-encoded)."""
    if msg.get("i") != i or type(msg.get("i")) is not int:
        return {"status": "invalid", "error": "reply out of order"}
    if "v" in msg:
        try:
            return {"status": "ok", "v": plain.to_tree(plain.from_tree(msg["v"]))}
        except (ValueError, RecursionError) as e:
            return {"status": "invalid", "error": short(e)}
    for key in ("raised", "invalid"):
        if type(msg.get(key)) is str:
            return {"status": key, "error": msg[key][:300]}
    return {"status": "invalid", "error": "malformed reply"}


def run(cfg, sources):
    """Relay the worker's replies, one line per call; with ``restart`` a call that
    times out or kills the worker costs only that call (fresh worker for the rest)."""
    start = time.monotonic()
    budget_end = start + float(cfg["budget_s"])
    calls = cfg["calls"]
    limits = cfg["call_timeouts"]
    keep = int(cfg.get("keep_output_bytes", 4096))
    restart = bool(cfg.get("restart"))
    head, out_total = bytearray(), 0
    i, stopped = 0, None
    defined_once = False
    while i < len(calls) or not defined_once:
        pid, rep_r, out_r = start_worker(cfg, sources, i)
        frames = Frames(int(cfg.get("max_reply_bytes", 16 << 20)))
        waiting_define, last, open_fds = True, time.monotonic(), {rep_r, out_r}
        failed = None  # "timeout" / "died" / "invalid" / "undefined" / "budget" of this worker
        while failed is None and (waiting_define or i < len(calls)):
            now = time.monotonic()
            limit = cfg["define_timeout_s"] if waiting_define else limits[i]
            deadline = min(last + limit, budget_end)
            t = round(now - last, 6)
            if now >= deadline:
                failed = "budget" if budget_end <= last + limit else "timeout"
                if waiting_define and not defined_once:
                    emit({"k": "defined", "ok": False, "error": "timed out", "t": t})
                elif not waiting_define and failed == "timeout":
                    emit({"k": "call", "i": i, "status": "timeout", "t": t})
                    i += 1
                break
            if rep_r not in open_fds:
                failed = "died"
                what = "the process running the code exited"
                if waiting_define and not defined_once:
                    emit({"k": "defined", "ok": False, "error": what, "t": t})
                elif not waiting_define:
                    emit({"k": "call", "i": i, "status": "died", "error": what, "t": t})
                    i += 1
                break
            ready, _, _ = select.select(list(open_fds), [], [], max(0.0, deadline - now))
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    open_fds.discard(fd)
                elif fd == out_r:
                    out_total += len(chunk)
                    head += chunk[: max(0, keep - len(head))]
                else:
                    frames.feed(chunk)
            while rep_r in ready and failed is None and (waiting_define or i < len(calls)):
                try:
                    msg = frames.next()
                except (ValueError, RecursionError) as e:
                    failed = "invalid"
                    if waiting_define and not defined_once:
                        emit({"k": "defined", "ok": False, "error": "bad reply: " + short(e)})
                    elif not waiting_define:
                        emit({"k": "call", "i": i, "status": "invalid", "error": "bad reply: " + short(e)})
                        i += 1
                    break
                if msg is None:
                    break
                now = time.monotonic()
                t, last = round(now - last, 6), now
                if waiting_define:
                    ok = msg.get("defined") is True
                    if not ok:
                        failed = "undefined"
                        if not defined_once:
                            err = msg.get("error") if type(msg.get("error")) is str else ""
                            emit({"k": "defined", "ok": False, "error": err[:300] or "malformed reply", "t": t})
                        break
                    if not defined_once:
                        emit({"k": "defined", "ok": True, "error": "", "t": t})
                    waiting_define, defined_once = False, True
                else:
                    emit({"k": "call", "i": i, "t": t, **relay(msg, i)})
                    i += 1
        kill_worker(pid)
        os.close(rep_r)
        os.close(out_r)
        if failed is None:
            break
        # A fresh worker only after a call that hung or crashed it (never for a definition:
        # each restart must have used up one call, so this ends).
        if not (restart and not waiting_define and failed in ("timeout", "died") and time.monotonic() < budget_end):
            stopped = failed
            break
    emit({"k": "end", "output_bytes": out_total, "output_head": head.decode("utf-8", "replace"),
          "stopped": stopped})


def main():
    no_dumping()
    with open(CONFIG) as f:
        cfg = json.load(f)
    sources = []
    for name, required in cfg["sources"]:
        with open(name, "rb") as f:  # bytes: a bad encoding is the code's SyntaxError, in the worker
            sources.append((name, f.read(), required))
    # The code under test can write to the working directory: no later import of
    # the runner may find a module there (the worker gets the full path back).
    global WORKER_PATH
    WORKER_PATH = list(sys.path)
    here = os.getcwd()
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != here]
    run(cfg, sources)
    os._exit(0)


if __name__ == "__main__":
    main()
