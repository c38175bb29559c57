"""`mastune eval` answers bad input with a message, not a traceback (issue 15, fault 8)."""
import json
from dataclasses import dataclass

import pytest
from typer.testing import CliRunner

from mastune.cli import eval_cmd
from mastune.cli.main import app
from mastune.llm.types import Usage

runner = CliRunner()


@pytest.fixture
def data(tmp_path):
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(json.dumps({"question": f"double {i}", "answer": f"#### {2 * i}"}) for i in range(4)))
    return p


def _eval(tmp_path, data, *extra):
    return runner.invoke(app, ["eval", "--system", "cot", "--task", "gsm8k", "--data-path", str(data),
                               "--split", "all", "--out", str(tmp_path / "run"), *extra])


@pytest.mark.parametrize("flags,message", [
    (["--split", "bogus"], "unknown split 'bogus'"),
    (["--sample", "-2"], "--sample must be at least 1"),
    (["--limit", "-3"], "--limit must be at least 1"),
    (["--limit", "0"], "--limit must be at least 1, got 0 (0 items would make an empty run)"),
    (["--sample", "0"], "--sample must be at least 1, got 0"),
    (["--concurrency", "0"], "--concurrency must be at least 1"),
])
def test_bad_numbers_and_names_are_messages(tmp_path, data, flags, message):
    r = _eval(tmp_path, data, *flags)
    assert r.exit_code == 1, r.output
    assert message in " ".join(r.output.split()) and isinstance(r.exception, SystemExit)
    assert "Traceback" not in r.output and not (tmp_path / "run" / "results.jsonl").exists()


def test_a_broken_data_file_is_a_message(tmp_path, data):
    data.write_text(data.read_text() + "\n{oops\n")
    r = _eval(tmp_path, data)
    assert r.exit_code == 1 and "g.jsonl line 5: not valid JSON" in r.output


@dataclass
class _Result:
    answer_text: str
    usage: Usage
    calls: int = 1
    trace: object = None


class _Overflowing:
    async def run(self, question, family):
        from mastune.errors import ContextOverflow

        if "3" in question:
            raise ContextOverflow("the prompt needs 60000 tokens; the context holds 4096")
        return _Result("\\boxed{0}", Usage(calls=1))


def test_an_item_too_long_for_the_context_is_not_sent_back_to_retry(tmp_path, data, monkeypatch):
    monkeypatch.setattr(eval_cmd, "build_system", lambda *a, **k: _Overflowing())
    r = _eval(tmp_path, data, "--no-cache")
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "1 item(s) cannot succeed" in out and "context" in out
    assert "re-run the same command to retry" not in out
