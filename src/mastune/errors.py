"""Typed errors. Every message says what to do next."""


class MastuneError(Exception):
    """Base class for all mastune errors."""


class ConfigError(MastuneError):
    """A configuration file or argument is invalid."""


class ModelUnavailable(MastuneError):
    """A model cannot be loaded or reached."""


class ContextOverflow(MastuneError):
    """The request does not fit the model's context window."""


class LLMTimeout(MastuneError):
    """An LLM call did not finish within its timeout (after retries)."""


class LLMError(MastuneError):
    """Any other failure of an LLM backend."""


class DataError(MastuneError):
    """A data file exists but cannot be used as it is (bad JSON, a row without its fields)."""
