"""Small shared helpers for config and trace files (one place for their errors)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

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
