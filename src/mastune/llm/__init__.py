"""The LLM layer: one async chat call, per-call usage, backends, pools, cache."""
from .cache import CallCache, cache_key
from .fake import FakeLM
from .lm import LM, RawCompletion
from .types import Completion, Message, Price, Usage
from .usage import UsageTracker, record_usage, track_usage

__all__ = [
    "CallCache", "Completion", "FakeLM", "LM", "Message", "Price", "RawCompletion",
    "Usage", "UsageTracker", "cache_key", "record_usage", "track_usage",
]
