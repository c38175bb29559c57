"""mastune: build, run, evaluate and optimise multi-agent LLM systems."""
from . import settings
from .errors import ConfigError, ContextOverflow, LLMError, LLMTimeout, MastuneError, ModelUnavailable

__version__ = "0.1.0"
__all__ = ["settings", "ConfigError", "ContextOverflow", "LLMError", "LLMTimeout", "MastuneError", "ModelUnavailable"]
