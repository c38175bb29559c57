"""Which xllamacpp build is loaded: the CPU features it was compiled for vs the host's.

The PyPI wheel is compiled for a portable x86-64 (AVX2); a source build with
GGML_NATIVE=ON uses AVX-512 where the CPU has it (benchmarks/bench_native.py
measures the two). llama.cpp's system info lists the compiled features as "NAME = 1".
"""
from __future__ import annotations

import re
from pathlib import Path


def compiled_features(system_info: str) -> list[str]:
    return re.findall(r"([A-Z0-9_]+) = 1", system_info)


def host_has_avx512(cpuinfo: str | None = None) -> bool:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return re.search(r"^flags\s*:.*\bavx512f\b", cpuinfo, re.M) is not None


def describe(system_info: str | None = None, cpuinfo: str | None = None) -> str:
    """One line: build kind, compiled CPU features, and a hint when the host could do more."""
    if system_info is None:
        try:
            import xllamacpp
        except ImportError:
            return "engine: xllamacpp is not installed (pip install xllamacpp)"
        system_info = xllamacpp.get_system_info()
    feats = [f for f in compiled_features(system_info) if f.startswith(("AVX", "AMX", "FMA", "F16C", "BMI2", "SSE"))]
    native = any(f.startswith(("AVX512", "AMX")) for f in feats)
    line = f"engine: xllamacpp, {'native build' if native else 'portable build (prebuilt wheel)'}; CPU features: " \
           + (", ".join(feats) or "none reported")
    if not native and host_has_avx512(cpuinfo):
        line += " (this CPU also has AVX-512, which this build does not use)"
    return line
