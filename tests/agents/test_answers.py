from mastune.agents import answer_key, extract_answer, majority, unanimous


def test_extract_per_family():
    assert extract_answer("so \\boxed{1,000}", "math") == "1,000"
    assert extract_answer("Hence the answer is 12.", "gsm8k") == "12"
    assert extract_answer("Reasoning... The answer is C", "mmlu") == "C"
    assert extract_answer("```python\ndef f():\n    return 1\n```", "code").startswith("def f")
    assert extract_answer("no idea", "mcq") is None


def test_keys_compare_equal_forms():
    assert answer_key("1,000.0", "math") == answer_key("1000", "math")
    assert answer_key("c", "mcq") == "C"
    assert answer_key(None, "math") is None


def test_majority_and_unanimity():
    assert majority(["3", "4", "4.0", None, "3"], "math") == 0  # tie 2-2: earliest wins
    assert majority([None, "4", "4.0", "3"], "math") == 1
    assert majority([None, None], "math") is None
    assert unanimous(["B", "b"], "mcq")
    assert not unanimous(["B", None], "mcq") and not unanimous([], "mcq")


def test_runtime_import_leaves_the_task_layer_unloaded():
    import subprocess
    import sys

    code = "import sys, mastune.agents; print('mastune.tasks' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
