"""Reading benchmark files into rows (plain dicts), with errors that name the file and line."""
from __future__ import annotations

import csv
import gzip
import io
import json
import os
import zlib
from pathlib import Path
from typing import Any

from ...errors import DataError
from ..base import DataNotFound

Row = dict[str, Any]


def read_rows(path: str | os.PathLike) -> list[Row]:
    """Rows of a .jsonl / .json / .csv / .parquet file (optionally .gz)."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".gz"):
        try:
            with gzip.open(p, "rb") as f:
                data = f.read()
        except EOFError:  # left bare, the CLI shows it as "Aborted."
            raise DataError(f"{p}: the gzip file is truncated (it ends before its end marker); "
                            "download or copy it again") from None
        except (gzip.BadGzipFile, zlib.error) as e:
            raise DataError(f"{p}: not a valid gzip file ({e}); download or copy it again") from None
        return _parse_rows(name[:-3], data, p)
    return _parse_rows(name, p.read_bytes(), p)


def _parse_rows(name: str, data: bytes, origin: Path) -> list[Row]:
    if name.endswith(".jsonl"):
        return _jsonl_rows(_decode(data, origin), origin)
    if name.endswith(".json"):
        try:
            obj = json.loads(_decode(data, origin))
        except json.JSONDecodeError as e:
            raise DataError(f"{origin.name}: not valid JSON (line {e.lineno}: {e.msg})") from None
        return _json_rows(obj, origin)
    if name.endswith(".csv"):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:  # some upstream CSVs carry stray Mac-Roman bytes
            text = data.decode("mac_roman")
        head = text[:4096]
        delim = ";" if head.count(";") > head.count(",") else ","
        return [dict(r) for r in csv.DictReader(io.StringIO(text), delimiter=delim)]
    if name.endswith(".parquet"):
        try:
            import pandas as pd
        except ImportError as e:
            raise DataNotFound(f"reading {origin.name} needs pandas + pyarrow: pip install pandas pyarrow") from e
        return pd.read_parquet(io.BytesIO(data)).to_dict(orient="records")
    raise DataNotFound(f"unsupported file type: {origin.name} (use .jsonl, .jsonl.gz, .json, .csv or .parquet)")


def _decode(data: bytes, origin: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{origin.name}: not UTF-8 text (byte {e.start})") from None


def _jsonl_rows(text: str, origin: Path) -> list[Row]:
    rows = []
    # split("\n"), not splitlines(): rows may hold U+2028 and friends inside strings
    for no, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{origin.name} line {no}: not valid JSON ({e.msg}); fix or delete that line") from None
        if not isinstance(row, dict):
            raise DataError(f"{origin.name} line {no}: a row must be a JSON object, got {type(row).__name__}")
        rows.append(row)
    return rows


def _json_rows(obj: Any, origin: Path) -> list[Row]:
    if isinstance(obj, dict):
        for key in ("data", "rows", "examples", "test"):
            if isinstance(obj.get(key), list):
                return _only_objects(obj[key], origin)
        # evalplus-style {task_id: row}
        return [dict(v, task_id=v.get("task_id", k)) for k, v in obj.items() if isinstance(v, dict)]
    if isinstance(obj, list):
        return _only_objects(obj, origin)
    raise DataError(f"{origin.name}: holds a JSON {type(obj).__name__}; expected a list of rows "
                    "(or an object with a 'data' / 'rows' / 'examples' / 'test' list)")


def _only_objects(items: list, origin: Path) -> list[Row]:
    for i, r in enumerate(items, 1):
        if not isinstance(r, dict):
            raise DataError(f"{origin.name} row {i}: a row must be a JSON object, got {type(r).__name__}")
    return items


def need(row: Row, key: str, i: int) -> Any:
    """row[key], or a DataError naming the row (1-based) and the fields it has."""
    v = row.get(key)
    if v is None:
        have = ", ".join(sorted(map(str, row))) or "none"
        raise DataError(f"row {i + 1}: no {key!r} field (fields: {have})")
    return v
