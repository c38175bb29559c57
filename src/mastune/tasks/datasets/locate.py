"""Where a benchmark's rows come from.

Order tried:
1. an explicit `path` (a file in the benchmark's format, or a data folder);
2. the shared data folder: $MASTUNE_DATA_DIR, else the first `shared/data`
   found walking up from the working directory or from this package;
3. the Hugging Face hub, through the `datasets` library, when installed and
   not offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE / MASTUNE_OFFLINE).
Nothing found raises `DataNotFound` naming every place tried.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable

from ..base import DataNotFound
from .files import Row, read_rows
from .spec import Spec


def _walk_up(start: Path) -> Iterable[Path]:
    start = start.resolve()
    yield start
    yield from start.parents


def data_dir_candidates() -> list[tuple[str, Path]]:
    """(label, folder) pairs in search order; the env var, if set, wins alone."""
    env = os.environ.get("MASTUNE_DATA_DIR")
    if env:
        return [("$MASTUNE_DATA_DIR", Path(env).expanduser())]
    found: list[tuple[str, Path]] = []
    for label, start in (("shared/data above the working directory", Path.cwd()),
                         ("shared/data above the mastune package", Path(__file__).parent)):
        for d in _walk_up(start):
            cand = d / "shared" / "data"
            if cand.is_dir():
                if all(cand != p for _, p in found):
                    found.append((label, cand))
                break
    return found


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes")
               for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "MASTUNE_OFFLINE"))


def _from_hub(spec: Spec) -> list[Row]:
    if _offline():
        raise RuntimeError("skipped: offline mode (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE / MASTUNE_OFFLINE)")
    try:
        import datasets  # optional dependency
    except ImportError as e:
        raise RuntimeError("the `datasets` package is not installed (pip install datasets)") from e
    rows: list[Row] = []
    for dataset, config, split in spec.hub:
        part = datasets.load_dataset(dataset, config, split=split)
        for r in part:
            r = dict(r)
            if spec.hub_subject_configs:
                r.setdefault("subject", config)
            rows.append(r)
    return rows


def _in_folder(spec: Spec, folder: Path) -> Path | None:
    for rel in spec.files:
        if (folder / rel).is_file():
            return folder / rel
    return None


def _copies(spec: Spec, hit: Path) -> list[str]:
    """The file rows came from and every other file of the benchmark beside it (another format
    of the same data): what a sandbox grading this task must not show (they hold the references)."""
    found = {os.path.realpath(hit)}
    for rel in spec.files:
        for cand in (hit.parent / Path(rel).name, hit.parent.parent / rel):
            if cand.is_file():
                found.add(os.path.realpath(cand))
    return sorted(found)


def _hub_caches() -> list[str]:
    out = []
    for mod, attr in (("datasets.config", "HF_DATASETS_CACHE"), ("huggingface_hub.constants", "HF_HUB_CACHE")):
        try:
            import importlib

            out.append(os.path.realpath(str(getattr(importlib.import_module(mod), attr))))
        except Exception:  # an optional library, or one that moved the constant
            continue
    return out


def find_rows(spec: Spec, path: str | os.PathLike | None = None) -> tuple[list[Row], str]:
    """Rows for `spec` and a description of where they came from."""
    rows, source, _ = locate_rows(spec, path)
    return rows, source


def locate_rows(spec: Spec, path: str | os.PathLike | None = None) -> tuple[list[Row], str, list[str]]:
    """Rows for `spec`, a description of where they came from, and the files they came from
    (with the benchmark's other files beside them; for the hub, its cache folders)."""
    tried: list[str] = []
    if path is not None:
        p = Path(path).expanduser()
        if p.is_file():
            return read_rows(p), p.name, _copies(spec, p)
        if p.is_dir():
            hit = _in_folder(spec, p) or (_in_folder(spec, p / "data") if (p / "data").is_dir() else None)
            if hit:
                return read_rows(hit), str(hit.relative_to(p)), _copies(spec, hit)
            tried.append(f"path {p}: no {' or '.join(spec.files)} inside")
        else:
            tried.append(f"path {p}: does not exist")
        # An explicit path that fails is an error: silently using other data would mislead.
        raise _not_found(spec, tried)
    cands = data_dir_candidates()
    if not cands:
        tried.append("shared/data: none found above the working directory or the mastune package "
                     "($MASTUNE_DATA_DIR not set)")
    for label, folder in cands:
        hit = _in_folder(spec, folder)
        if hit:
            return read_rows(hit), f"shared data: {'/'.join(hit.parts[-2:])}", _copies(spec, hit)
        tried.append(f"{label} ({folder}): no {spec.files[0]}")
    try:
        rows = _from_hub(spec)
        return rows, f"hub: {spec.hub[0][0]}", _hub_caches()
    except Exception as e:  # any hub failure becomes one line of the final error
        tried.append(f"Hugging Face hub {spec.hub[0][0]}: {type(e).__name__}: {e}")
    raise _not_found(spec, tried)


def _not_found(spec: Spec, tried: list[str]) -> DataNotFound:
    lines = "\n".join(f"  - {t}" for t in tried)
    return DataNotFound(
        f"no data found for task {spec.name!r}. Tried:\n{lines}\n"
        f"Fix: set MASTUNE_DATA_DIR to a folder holding {spec.files[0]}, or pass --data-path FILE "
        f"(path=... in Python), or install `datasets` and go online to read {spec.hub[0][0]}."
    )


