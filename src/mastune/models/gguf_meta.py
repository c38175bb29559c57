"""Just enough of a GGUF header reader to list its metadata keys (no values kept, no `gguf` package).

The embedded engine asks whether a file carries a chat template: without one, llama.cpp falls back
to ChatML, which a base model echoes instead of answering (see llm/embedded.py).
"""
from __future__ import annotations

import functools
import os
import struct
from pathlib import Path
from typing import BinaryIO

# value type -> fixed byte size (8 = string, 9 = array: variable)
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


def _u32(f: BinaryIO) -> int:
    return struct.unpack("<I", f.read(4))[0]


def _u64(f: BinaryIO) -> int:
    return struct.unpack("<Q", f.read(8))[0]


def _skip_value(f: BinaryIO, vtype: int) -> None:
    if vtype in _FIXED:
        f.seek(_FIXED[vtype], os.SEEK_CUR)
    elif vtype == _STRING:
        f.seek(_u64(f), os.SEEK_CUR)
    elif vtype == _ARRAY:
        itype, n = _u32(f), _u64(f)
        if itype in _FIXED:
            f.seek(_FIXED[itype] * n, os.SEEK_CUR)
        else:  # strings (a tokenizer's vocabulary) or nested arrays: one by one
            for _ in range(n):
                _skip_value(f, itype)
    else:
        raise ValueError(f"unknown GGUF value type {vtype}")


def metadata_keys(path: str | Path) -> list[str]:
    """The metadata keys of a GGUF file, in file order. ValueError if it is not a readable GGUF."""
    with open(path, "rb") as raw:
        f = _BufferedSeek(raw)
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file")
        version = _u32(f)
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is not supported")
        _u64(f)  # tensor count
        keys = []
        for _ in range(_u64(f)):
            keys.append(f.read(_u64(f)).decode("utf-8", "replace"))
            _skip_value(f, _u32(f))
        return keys


@functools.lru_cache(maxsize=64)
def _has_chat_template(path: str, size: int, mtime_ns: int) -> bool:
    return "tokenizer.chat_template" in metadata_keys(path)


def has_chat_template(path: str | Path) -> bool:
    """Whether the file names its own chat template (cached per file version)."""
    st = os.stat(path)
    return _has_chat_template(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


class _BufferedSeek:
    """Small reads and relative seeks over a file, through one 1 MiB buffer (a vocabulary of 262k
    strings is 524k tiny reads: unbuffered seeks would make that a second, buffered it is ~0.2 s)."""

    def __init__(self, raw: BinaryIO, size: int = 1 << 20) -> None:
        self.raw, self.size = raw, size
        self.buf, self.pos = b"", 0

    def read(self, n: int) -> bytes:
        if self.pos + n > len(self.buf):
            self.buf = self.buf[self.pos:] + self.raw.read(max(self.size, n))
            self.pos = 0
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        if len(out) < n:
            raise ValueError("GGUF header ends early")
        return out

    def seek(self, offset: int, whence: int) -> None:
        assert whence == os.SEEK_CUR
        if self.pos + offset <= len(self.buf):
            self.pos += offset
        else:  # past the buffer: move the file, drop the buffer
            self.raw.seek(offset - (len(self.buf) - self.pos), os.SEEK_CUR)
            self.buf, self.pos = b"", 0
