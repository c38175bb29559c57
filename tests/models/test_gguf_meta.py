"""The GGUF metadata reader, and which prompt a model gets from it (no engine: hand-made headers)."""
import struct

import pytest

from mastune.errors import ConfigError
from mastune.llm.embedded import COMPLETION_STOP, EmbeddedLM
from mastune.models.gguf_meta import has_chat_template, metadata_keys


def _s(text: str) -> bytes:
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def write_gguf(path, kvs) -> str:
    """A GGUF with no tensors and the given (key, type, packed value) entries."""
    body = b"".join(_s(k) + struct.pack("<I", t) + v for k, t, v in kvs)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kvs)) + body)
    return str(path)


def vocab(n: int) -> bytes:  # an array (9) of strings (8), like tokenizer.ggml.tokens
    return struct.pack("<IQ", 8, n) + b"".join(_s(f"tok{i}") for i in range(n))


def common():
    return [("general.architecture", 8, _s("llama")), ("general.alignment", 4, struct.pack("<I", 32)),
            ("tokenizer.ggml.tokens", 9, vocab(5000)),
            ("tokenizer.ggml.scores", 9, struct.pack("<IQ", 6, 3) + b"\0" * 12),  # an array of 3 float32
            ("tokenizer.ggml.add_bos_token", 7, b"\1")]


def test_keys_in_file_order_across_arrays_and_the_buffer_edge(tmp_path):
    chat = write_gguf(tmp_path / "chat.gguf", common() + [("tokenizer.chat_template", 8, _s("{{ x }}" * 100_000))])
    base = write_gguf(tmp_path / "base.gguf", common())
    assert metadata_keys(chat) == [k for k, _, _ in common()] + ["tokenizer.chat_template"]
    assert has_chat_template(chat) and not has_chat_template(base)


def test_not_a_gguf(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 40)
    with pytest.raises(ValueError):
        metadata_keys(bad)


def test_a_file_without_a_chat_template_gets_the_completion_prompt(tmp_path):
    chat = write_gguf(tmp_path / "chat.gguf", common() + [("tokenizer.chat_template", 8, _s("t"))])
    base = write_gguf(tmp_path / "base.gguf", common())
    assert not EmbeddedLM("c", chat).completion_format()
    lm = EmbeddedLM("b", base)
    assert lm.completion_format() and lm.identity()["prompt"] == "completion-v1"
    # the pool entry can say otherwise either way
    assert not EmbeddedLM("b", base, prompt_format="chat").completion_format()
    assert EmbeddedLM("c", chat, prompt_format="completion").completion_format()
    assert "prompt" not in EmbeddedLM("c", chat).identity()
    with pytest.raises(ConfigError, match="prompt_format"):
        EmbeddedLM("c", chat, prompt_format="plain")
    assert COMPLETION_STOP == ("\nQ:",)


def test_the_registry_marks_the_base_model():
    from mastune.models.registry import MODELS

    assert [m.name for m in MODELS.values() if not m.instruct] == ["gemma3-270m"]
