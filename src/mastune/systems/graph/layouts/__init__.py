"""One module per layout: its config fields and how it lays out nodes (registered on import)."""
from . import debate, graph, moa, samples, single  # noqa: F401
