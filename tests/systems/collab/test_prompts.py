from mastune.systems.collab.prompts import render


def test_solver_instruction_follows_the_task_family():
    math = render("solver", question="2+2?", family_name="math", expert="a mathematician.", previous="", advice="",
                  direction="")
    code = render("solver", question="def f(): ...", family_name="code", expert="an engineer.", previous="",
                  advice="", direction="")
    assert "Think step by step, then give the answer. Put the final answer in \\boxed{}." in math[1]["content"]
    assert "Solve the task. Answer with a single ```python block" in code[1]["content"]
    assert "step by step" not in code[1]["content"]
