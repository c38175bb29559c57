"""Small shared helpers for config, trace and run folders (one place for their errors)."""
from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Iterator, TypeVar

import yaml

from .errors import ConfigError

T = TypeVar("T")


def write_text(text: str, path: str | Path | None) -> str:
    """Return `text`, also writing it to `path` when one is given."""
    if path is not None:
        Path(path).write_text(text)
    return text


def dump_yaml(data: Any, path: str | Path | None = None) -> str:
    return write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), path)


def dump_json(data: Any, path: str | Path | None = None) -> str:
    return write_text(json.dumps(data, indent=2, ensure_ascii=False), path)


def load_yaml_file(path: str | Path, what: str) -> Any:
    """Parse a YAML file; a missing file or bad YAML is a ConfigError naming `what`."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {path}")
    return parse_yaml(path.read_text(), str(path))


def parse_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{source} is not valid YAML: {e}") from None


def dataclass_from_dict(cls: type[T], d: dict[str, Any], source: str) -> T:
    """Build a config dataclass, refusing unknown keys with the list of allowed ones."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ConfigError(f"{source}: unknown keys {sorted(unknown)}; allowed: {sorted(known)}")
    return cls(**d)


@contextlib.contextmanager
def writer_lock(folder: str | Path) -> Iterator[None]:
    """One writer per run folder: two processes appending to the same resumable files
    would redo or corrupt each other's work. The lock dies with its process, so a
    killed run never blocks its resume."""
    from .jsonl import open_no_follow  # a link planted as .lock is refused, never truncated through

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(open_no_follow(folder / ".lock", os.O_RDWR | os.O_CREAT), "r+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            raise ConfigError(f"{folder} is being written by another process (pid {f.read().strip() or '?'}); "
                              "wait for it or use another output folder") from None
        f.truncate(0)
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
