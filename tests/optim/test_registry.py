"""Optimisers register into one contract; importing the registry imports no torch."""
import subprocess
import sys

import pytest

from mastune.errors import ConfigError
from mastune.optim import Artifact, Optimiser, get_optimiser, optimisers


def test_hieramas_neuromas_and_sft_are_registrations_of_one_contract():
    assert optimisers() == ["hieramas", "neuromas", "rl", "sft"]
    for name in optimisers():
        cls = get_optimiser(name)
        assert issubclass(cls, Optimiser) and cls.name == name and issubclass(cls.artifact, Artifact)
    with pytest.raises(ConfigError, match="unknown optimiser 'dspy'; optimisers: hieramas, neuromas, rl, sft"):
        get_optimiser("dspy")


def test_the_registry_and_the_cli_import_no_torch():
    code = ("import sys, mastune.optim, mastune.cli.main; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_train_lists_every_registered_optimiser():
    from typer.testing import CliRunner

    from mastune.cli.main import app

    res = CliRunner().invoke(app, ["train", "--help"])
    assert res.exit_code == 0 and all(name in res.output for name in ("hieramas", "neuromas", "sft"))
