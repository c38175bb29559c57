"""Issue 40, point 2: long work says what it is doing; Ctrl-C says what was kept and how to go on."""
import json
import logging
import os
import signal
import subprocess
import sys
import time
import warnings

import pytest
from typer.testing import CliRunner

from mastune.cli.main import app

runner = CliRunner()


def fake_pool(tmp_path, latency=0.0, reply="so \\\\boxed{4}"):
    p = tmp_path / "pool.yaml"
    p.write_text(f'models:\n  - {{name: m, backend: fake, fake: {{reply: "{reply}", latency_s: {latency}}}}}\n')
    return p


def gsm8k_file(tmp_path, n=4):
    p = tmp_path / "g.jsonl"
    p.write_text("\n".join(json.dumps({"question": f"double {i}", "answer": f"#### {2 * i}"}) for i in range(n)))
    return p


def test_a_multi_call_run_reports_each_node_calls_and_tokens(tmp_path):
    r = runner.invoke(app, ["run", "What is 2+2?", "--system", "full", "--pool", str(fake_pool(tmp_path)),
                            "--model", "m", "--no-cache"])
    assert r.exit_code == 0, r.output
    lines = [x for x in r.stderr.splitlines() if x.startswith("[full]")]
    # one line per finished call (off a terminal), naming the node, with the running totals
    assert len(lines) == 3, r.stderr
    assert "mathematical_analyst (m) done" in lines[0] and "1 call(s)" in lines[0]
    assert "3 call(s)" in lines[-1] and "tokens" in lines[-1]
    assert "boxed{4}" in r.stdout and "[full]" not in r.stdout  # the answer stays clean on stdout


def test_concurrent_calls_name_their_nodes_and_what_still_runs(tmp_path):
    r = runner.invoke(app, ["run", "What is 2+2?", "--system", "self-consistency", "--pool",
                            str(fake_pool(tmp_path, latency=0.05)), "--model", "m", "--no-cache"])
    assert r.exit_code == 0, r.output
    lines = [x for x in r.stderr.splitlines() if x.startswith("[self-consistency]")]
    assert len(lines) >= 2 and "running:" in lines[0], r.stderr


def test_the_first_load_of_a_model_is_announced(monkeypatch, caplog, tmp_path):
    from mastune.llm import embedded

    class Stub:  # no engine: only what get_engine says around the load
        def __init__(self, spec):
            self.spec = spec

        def refresh(self):
            pass

    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 2_000_000)
    monkeypatch.setattr(embedded, "Engine", Stub)
    monkeypatch.setattr(embedded, "_engines", {})
    with caplog.at_level(logging.INFO, logger="mastune"):
        embedded.get_engine(embedded.EngineSpec(str(gguf)))
        embedded.get_engine(embedded.EngineSpec(str(gguf), n_parallel=2))  # same file, other settings: quiet
    said = [r.getMessage() for r in caplog.records]
    assert said[0].startswith("loading tiny.gguf (2 MB)") and said[1].startswith("loaded tiny.gguf in")
    assert len(said) == 2


def test_ctrl_c_on_eval_says_what_was_kept_and_the_same_command_resumes(tmp_path):
    pool, data, out = fake_pool(tmp_path, latency=0.4), gsm8k_file(tmp_path, 40), tmp_path / "run"
    cmd = [sys.executable, "-m", "mastune.cli.main", "eval", "--system", "single", "--task", "gsm8k",
           "--data-path", str(data), "--split", "all", "--limit", "40", "--pool", str(pool), "--out", str(out),
           "--concurrency", "1", "--no-cache"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (results.is_file() and results.read_text().count("\n") >= 2):
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    kept = sum(1 for line in results.read_text().splitlines() if line.strip())
    last = [x for x in err.splitlines() if x.strip()][-1]
    assert last.startswith("interrupted: ") and f"{kept} of 40 items are kept" in last, err
    assert "run the same command to resume" in last
    assert "Traceback" not in err and "Aborted" not in err


def test_ctrl_c_on_traces_generate_counts_what_is_recorded(tmp_path, monkeypatch):
    from mastune.optim.sft import traces

    out = tmp_path / "traces"
    out.mkdir()
    (out / traces.TRACES_FILE).write_text(json.dumps({"id": "gsm8k/0", "status": "ok"}) + "\n")

    async def killed(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(traces, "generate_traces", killed)
    r = runner.invoke(app, ["traces", "generate", "--task", "gsm8k", "--data-path", str(gsm8k_file(tmp_path, 3)),
                            "--split", "all", "--pool", str(fake_pool(tmp_path)), "--out", str(out)])
    assert r.exit_code == 130, r.output
    assert "interrupted: 1 of 3 questions are done and kept" in r.stderr
    assert "run the same command to resume" in r.stderr and "Traceback" not in r.output


def _noisy_then(outcome):
    """A stand-in for an optimiser's compile: library chatter, then `outcome`."""
    async def compile(self, *a, **k):
        warnings.warn("a library warning nobody asked for", FutureWarning)
        logging.getLogger("transformers.modeling_utils").warning("a transformers warning")
        from tqdm.auto import tqdm  # what transformers draws its GGUF bar with (tqdm already imported here)
        from transformers.utils.logging import tqdm as hf_tqdm  # its other bars

        for _ in tqdm(range(3), desc="Converting and de-quantizing GGUF tensors"):
            pass
        for _ in hf_tqdm(range(3), desc="Loading checkpoint shards"):
            pass
        if outcome is KeyboardInterrupt:
            raise KeyboardInterrupt
        return outcome
    return compile


def test_ctrl_c_on_train_hieramas_names_the_iterations_kept(tmp_path, monkeypatch):
    from mastune.optim.hieramas.optimiser import HieraMASOptimiser

    out = tmp_path / "hm"
    (out / "stage1").mkdir(parents=True)
    (out / "stage1" / "log.jsonl").write_text('{"iteration": 0}\n{"iteration": 1}\n')
    monkeypatch.setattr(HieraMASOptimiser, "compile", _noisy_then(KeyboardInterrupt))
    r = runner.invoke(app, ["train", "hieramas", "--task", "gsm8k", "--data-path", str(gsm8k_file(tmp_path, 8)),
                            "--pool", str(fake_pool(tmp_path)), "--out", str(out), "--val-size", "0",
                            "--embedder", "hash-16"])
    assert r.exit_code == 130, r.output
    assert f"interrupted: {out} keeps 2 stage-1 iteration(s); run the same command to resume" in r.stderr
    # the libraries' chatter is silenced in train output
    assert "library warning" not in r.output and "transformers warning" not in r.output
    assert "de-quantizing" not in r.output and "checkpoint shards" not in r.output and "Traceback" not in r.output


def test_ctrl_c_on_train_sft_says_it_starts_over(tmp_path, monkeypatch):
    from mastune.optim.sft.optimiser import SFTOptimiser

    data = tmp_path / "sft.jsonl"
    data.write_text("")
    monkeypatch.setattr(SFTOptimiser, "compile", _noisy_then(KeyboardInterrupt))
    r = runner.invoke(app, ["train", "sft", "--data", str(data), "--base", str(tmp_path), "--out", str(tmp_path / "o")])
    assert r.exit_code == 130, r.output
    assert "interrupted: SFT does not resume" in r.stderr and "library warning" not in r.output


def test_quiet_libraries_restores_everything_and_verbose_keeps_the_noise():
    from mastune.cli.common import quiet_libraries

    before = (os.environ.get("TQDM_DISABLE"), logging.getLogger("transformers").level)
    with quiet_libraries():
        assert os.environ["TRANSFORMERS_VERBOSITY"] == "error" or "TRANSFORMERS_VERBOSITY" in os.environ
        with warnings.catch_warnings(record=True) as seen:
            warnings.warn("hidden")  # catch_warnings(record) resets filters: only check it does not raise
        assert logging.getLogger("peft").level == logging.ERROR
    assert (os.environ.get("TQDM_DISABLE"), logging.getLogger("transformers").level) == before
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with quiet_libraries(verbose=True):
            warnings.warn("shown")
    assert [str(w.message) for w in seen] == ["shown"]


def test_what_each_method_keeps(tmp_path):
    from mastune.cli.train import kept_by

    (tmp_path / "log.jsonl").write_text('{"step": 0}\n{"step": 1, "eval": {"accuracy": 0.5}}\n')
    assert kept_by("neuromas", tmp_path).startswith(f"{tmp_path} keeps 2 finished step(s)")
    assert kept_by("rl", tmp_path).startswith(f"{tmp_path} keeps 2 finished step(s)")
    assert "starts over" not in kept_by("rl", tmp_path) and "same command to resume" in kept_by("rl", tmp_path)
    assert kept_by("another", None) == "run the same command to resume"
