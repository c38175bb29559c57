"""Versioned checkpoints (round trip, loud mismatches) and resuming stage 1 after a kill."""
import json

import pytest
import torch

from mastune.errors import ConfigError
from mastune.optim.hieramas import CheckpointError, HashEmbedder, train_stage1
from mastune.optim.hieramas.checkpoint import CheckpointMeta, load_checkpoint, save_checkpoint
from mastune.optim.hieramas.selector import LLMSelector

from .fakes import examples
from .test_stage1 import config, fake_pool


def meta(**kw):
    base = dict(kind="selector", pool_models=["a", "b"], family="math", roles=["R1", "R2"], embedding_model="hash-64",
                embedding_dim=64, config={"hidden": 8})
    base.update(kw)
    return CheckpointMeta(**base)


def test_round_trip(tmp_path):
    sel = LLMSelector(64)
    save_checkpoint(tmp_path / "s.pt", sel.state_dict(), meta())
    state, m = load_checkpoint(tmp_path / "s.pt", kind="selector", pool_models=["a", "b"], family="math",
                               roles=["R1", "R2"], embedding_model="hash-64")
    other = LLMSelector(64)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(sel.state_dict().values(), other.state_dict().values()))
    assert m == meta() and m.format_version == 1


@pytest.mark.parametrize("expect, message", [
    ({"pool_models": ["a", "c"]}, "pool models differ: checkpoint has ['a', 'b'], you have ['a', 'c']"),
    ({"roles": ["R1"]}, "role names differ"),
    ({"embedding_model": "sentence-transformers/all-MiniLM-L6-v2"}, "embedding model differ: checkpoint has 'hash-64'"),
    ({"family": "code"}, "task family differ"),
    ({"kind": "classifier"}, "it is a selector checkpoint, not a classifier one"),
])
def test_mismatch_names_what_differs(tmp_path, expect, message):
    save_checkpoint(tmp_path / "s.pt", LLMSelector(64).state_dict(), meta())
    with pytest.raises(CheckpointError) as e:
        load_checkpoint(tmp_path / "s.pt", **{"kind": "selector", **expect})
    assert message in str(e.value)


def test_other_format_version_and_missing_file(tmp_path):
    save_checkpoint(tmp_path / "s.pt", {}, meta(format_version=0))
    with pytest.raises(CheckpointError, match="format version 0, this mastune reads version 1"):
        load_checkpoint(tmp_path / "s.pt", kind="selector")
    with pytest.raises(CheckpointError, match="no selector checkpoint at"):
        load_checkpoint(tmp_path / "nothing.pt", kind="selector")


class Killed(Exception):
    pass


async def test_resume_after_a_kill_continues_from_the_saved_iteration(tmp_path):
    cfg, train, val = config(iterations=6, val_every=2), examples(6), examples(2, start=100)

    def kill_after(n):
        def hook(it, record):
            if it == n:
                raise Killed
        return hook

    with pytest.raises(Killed):
        await train_stage1(cfg, fake_pool(), train, val, tmp_path / "run", embedder=HashEmbedder(64), progress=False,
                           on_iteration=kill_after(2))
    log = tmp_path / "run" / "stage1" / "log.jsonl"
    assert [json.loads(l)["iteration"] for l in log.read_text().splitlines()] == [0, 1, 2]
    seen = []
    resumed = await train_stage1(cfg, fake_pool(), train, val, tmp_path / "run", embedder=HashEmbedder(64),
                                 progress=False, on_iteration=lambda it, r: seen.append(it))
    assert seen == [3, 4, 5]
    assert [r["iteration"] for r in resumed.log] == list(range(6))
    # the same as never having been killed: optimiser, RNG and best-so-far all came back
    straight = await train_stage1(cfg, fake_pool(), train, val, tmp_path / "straight", embedder=HashEmbedder(64),
                                  progress=False)
    assert [r["queries"] for r in resumed.log] == [r["queries"] for r in straight.log]
    assert [r["reward"] for r in resumed.log] == [r["reward"] for r in straight.log]
    for a, b in zip(resumed.selector.state_dict().values(), straight.selector.state_dict().values()):
        assert torch.equal(a, b)


async def test_a_second_trainer_on_the_same_folder_is_refused(tmp_path, another_writer):
    with another_writer(tmp_path / "run") as pid:
        with pytest.raises(ConfigError, match=f"pid {pid}"):
            await train_stage1(config(iterations=1), fake_pool(), examples(2), [], tmp_path / "run",
                               embedder=HashEmbedder(64), progress=False)
        assert not (tmp_path / "run" / "stage1").exists()
    await train_stage1(config(iterations=1), fake_pool(), examples(2), [], tmp_path / "run",
                       embedder=HashEmbedder(64), progress=False)
    assert (tmp_path / "run" / "selector.pt").is_file()


async def test_a_resumed_run_keeps_every_commit_it_was_trained_at(tmp_path, monkeypatch):
    import mastune.optim.hieramas.train as train

    for commit, iterations in (("aaa", 1), ("aaa", 2), ("bbb", 3)):
        monkeypatch.setattr(train, "git_commit", lambda c=commit: c)
        await train_stage1(config(iterations=iterations), fake_pool(), examples(2), [], tmp_path,
                           embedder=HashEmbedder(64), progress=False)
    assert json.loads((tmp_path / "config.json").read_text())["git_commits"] == ["aaa", "bbb"]


async def test_resuming_with_other_settings_is_refused(tmp_path):
    await train_stage1(config(iterations=1), fake_pool(), examples(2), [], tmp_path, embedder=HashEmbedder(64),
                       progress=False)
    with pytest.raises(CheckpointError, match="lr: run has 0.01, now 0.5"):
        await train_stage1(config(iterations=2, lr=0.5), fake_pool(), examples(2), [], tmp_path,
                           embedder=HashEmbedder(64), progress=False)
    # more iterations with the same settings extends the run
    res = await train_stage1(config(iterations=2), fake_pool(), examples(2), [], tmp_path, embedder=HashEmbedder(64),
                             progress=False)
    assert [r["iteration"] for r in res.log] == [0, 1]
