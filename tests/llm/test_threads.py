"""The thread budget: shares of the cores per process and per engine, and the machine-wide registry."""
import subprocess
import sys
from pathlib import Path

import pytest

from mastune.errors import ConfigError
from mastune.llm import threads
from mastune.llm.threads import ProcessRegistry, ThreadBudget, split


@pytest.mark.parametrize("cores,procs,engines,want", [
    (2, 1, 1, 2), (2, 2, 1, 1), (2, 1, 2, 1), (2, 1, 3, 1), (2, 3, 1, 1),
    (16, 2, 1, 8), (16, 3, 2, 2), (16, 1, 3, 5), (8, 0, 0, 8),
])
def test_split(cores, procs, engines, want):
    assert split(cores, procs, engines) == want


SRC = str(Path(__file__).resolve().parents[2] / "src")


def _holder(folder):
    """Another process registered in `folder` (as a second mastune process would be)."""
    code = (f"import sys, time; sys.path.insert(0, {SRC!r}); from mastune.llm.threads import ProcessRegistry\n"
            f"r = ProcessRegistry({str(folder)!r}); r.register(); print('ok', flush=True); time.sleep(60)")
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ok"
    return p


def test_registry_counts_live_processes_and_drops_dead_ones(tmp_path):
    reg = ProcessRegistry(tmp_path)
    assert reg.live() == 0
    reg.register()
    assert reg.live() == 1
    (tmp_path / "999999.lock").write_text("")  # a stale entry: nobody holds its lock
    other = _holder(tmp_path)
    try:
        assert reg.live() == 2
        assert not (tmp_path / "999999.lock").exists()
    finally:
        other.kill()
        other.wait()
    assert reg.live() == 1  # killed without cleanup: its unlocked file no longer counts
    reg.unregister()
    assert reg.live() == 0 and not list(tmp_path.glob("*.lock"))


def test_budget_splits_over_processes_and_engines(tmp_path, monkeypatch):
    monkeypatch.delenv("MASTUNE_THREADS", raising=False)
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    b = ThreadBudget(ProcessRegistry(tmp_path), cores=4)
    b.add(1)
    assert b.allocate().threads == 4
    assert b.allocate().solo == 0  # one engine: it has every core already
    b.add(2)
    assert (b.allocate().threads, b.allocate().solo) == (2, 4)  # split, and a solo instance with all
    other = _holder(tmp_path)
    try:
        a = b.allocate()
        assert (a.threads, a.processes, a.engines, a.source, a.solo) == (1, 2, 2, "budget", 2)
        assert b.learner_threads() == 2  # the learner runs while this process's engines idle: its whole share
    finally:
        other.kill()
        other.wait()
    b.remove(2)
    assert b.allocate().threads == 4 and b.learner_threads() == 4
    assert b.allocate(fixed=3).threads == 3  # a pool entry's n_threads
    monkeypatch.setenv("MASTUNE_SOLO_ENGINE", "0")
    b.add(3)
    assert (b.allocate().threads, b.allocate().solo) == (2, 0)
    monkeypatch.setenv("MASTUNE_SOLO_ENGINE", "maybe")
    with pytest.raises(ConfigError, match="MASTUNE_SOLO_ENGINE"):
        b.allocate()
    monkeypatch.delenv("MASTUNE_SOLO_ENGINE")
    b.remove(3)
    monkeypatch.setenv("MASTUNE_THREADS", "1")
    assert b.allocate(fixed=3) == threads.Allocation(1, "MASTUNE_THREADS")
    assert b.learner_threads() == 1
    b.remove(1)
    assert not b.registry.registered  # no engines left: this process stops counting
    monkeypatch.setenv("MASTUNE_THREADS", "two")
    with pytest.raises(ConfigError, match="MASTUNE_THREADS"):
        b.allocate()


def test_a_request_is_alone_only_while_no_other_engine_computes(tmp_path):
    b = ThreadBudget(ProcessRegistry(tmp_path), cores=2)
    with b.computing(1) as alone:
        assert alone
        with b.computing(1) as again:
            assert again  # the same engine's second slot: still no *other* engine
            with b.computing(2) as other:
                assert not other
        with b.computing(2) as other:
            assert not other  # engine 1 still computes one request
    with b.computing(2) as alone:
        assert alone  # engine 1 is done


@pytest.mark.engine
def test_solo_instance_serves_an_engine_computing_alone(smollm_path, tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from mastune.llm.embedded import Engine, EngineSpec

    monkeypatch.delenv("MASTUNE_THREADS", raising=False)
    monkeypatch.delenv("MASTUNE_SOLO_ENGINE", raising=False)
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    monkeypatch.setattr(threads, "GROW_AFTER_S", 0.0)
    budget = ThreadBudget(ProcessRegistry(tmp_path), cores=2)
    req = {"messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 12, "temperature": 0.0}
    e1 = Engine(EngineSpec(smollm_path, 2, 512), budget)
    before = e1.complete(req)["choices"][0]["message"]["content"]
    assert (e1.threads, e1.solo_requests) == (2, 0)
    e2 = Engine(EngineSpec(smollm_path, 1, 768), budget)
    try:
        e1.refresh()  # as get_engine does: the old all-cores load becomes e1's solo instance
        assert (e1.threads, e1.allocation.solo, e1.reloads) == (1, 2, 1)
        assert e1.complete(req)["choices"][0]["message"]["content"] == before
        assert e1.solo_requests == 1  # alone: every core
        with budget.computing(id(e2)):  # another engine computes: e1 takes its split instance
            assert e1.complete(req)["choices"][0]["message"]["content"] == before
        assert e1.solo_requests == 1
        with ThreadPoolExecutor(2) as ex:
            outs = list(ex.map(lambda e: e.complete(req)["choices"][0]["message"]["content"], [e1, e2]))
        assert outs == [before, before]
    finally:
        e2.close()
    e1.complete(req)  # alone again: the solo instance (2 threads) becomes the engine, no load
    assert (e1.threads, e1.allocation.solo, e1.reloads) == (2, 0, 1)
    assert e1.complete(req)["choices"][0]["message"]["content"] == before
    e1.close()


@pytest.mark.engine
def test_engine_reloads_with_a_smaller_share_and_answers_the_same(smollm_path, tmp_path, monkeypatch):
    from mastune.llm.embedded import Engine, EngineSpec

    monkeypatch.delenv("MASTUNE_THREADS", raising=False)
    monkeypatch.setenv("MASTUNE_SOLO_ENGINE", "0")
    monkeypatch.setattr(threads, "RECHECK_S", 0.0)
    monkeypatch.setattr(threads, "GROW_AFTER_S", 0.0)
    budget = ThreadBudget(ProcessRegistry(tmp_path), cores=2)
    req = {"messages": [{"role": "user", "content": "Name a colour."}], "max_tokens": 12, "temperature": 0.0}
    e1 = Engine(EngineSpec(smollm_path, 2, 512), budget)
    assert e1.threads == 2
    before = e1.complete(req)["choices"][0]["message"]["content"]
    e2 = Engine(EngineSpec(smollm_path, 1, 512), budget)  # a second engine in this process
    assert e2.threads == 1
    after = e1.complete(req)["choices"][0]["message"]["content"]
    assert e1.threads == 1 and e1.reloads == 1 and after == before
    e2.close()
    e1.complete(req)  # idle, and alone again: grows back
    assert e1.threads == 2 and e1.reloads == 2
    e1.close()
    assert not budget.registry.registered


def test_forked_child_does_not_inherit_the_registration(tmp_path):
    import os

    reg = ProcessRegistry(tmp_path)
    reg.register()
    pid = os.fork()
    if pid == 0:  # child: not registered, and closing its copy must not free the parent's lock
        os._exit(0 if not reg.registered else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    probe = ProcessRegistry(tmp_path / "..")  # another view of the same folder
    probe.folder = tmp_path
    assert probe.live() == 1  # the parent's entry is still locked
    reg.unregister()
