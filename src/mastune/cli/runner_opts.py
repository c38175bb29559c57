"""The `--runner / --ray-address / --workers` options shared by eval, traces generate and train."""
from __future__ import annotations

from typing import Optional

import typer
from rich.markup import escape

# escape(): rich would read "[ray]" as markup and drop it from --help.
RUNNER = typer.Option("local", "--runner", help="local (this process) | ray (Ray actor workers; "
                      + escape("pip install 'mastune[ray]'") + ")")
RAY_ADDRESS: Optional[str] = typer.Option(None, "--ray-address", help="runner ray: the cluster to join (e.g. "
                                          "ray://HEAD:10001 or auto); default: start a local Ray on this machine's "
                                          "cores")
WORKERS: Optional[int] = typer.Option(None, "--workers", help="runner ray: worker actors, one core each (default: "
                                      "one per cluster CPU); --concurrency is then the items in flight per worker")
