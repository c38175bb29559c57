from mastune.systems.collab.prompts import render


def test_solver_instruction_follows_the_task_family():
    math = render("solver", question="2+2?", family_name="math", expert="a mathematician.", previous="", advice="",
                  direction="")
    code = render("solver", question="def f(): ...", family_name="code", expert="an engineer.", previous="",
                  advice="", direction="")
    assert "Think step by step, then give the answer. Put the final answer in \\boxed{}." in math[1]["content"]
    assert "Solve the task. Answer with a single ```python block" in code[1]["content"]
    assert "step by step" not in code[1]["content"]


def test_roles_share_one_system_message_and_the_task_solution_prefix():
    """Layout for KV-cache reuse: the persona comes after the shared task and solution."""
    kw = dict(question="2+2?", family_name="math")
    critic = render("critic", expert="a critic.", solution="It is 4.", **kw)
    other_critic = render("critic", expert="a reviewer.", solution="It is 4.", **kw)
    evaluator = render("evaluator", solution="It is 4.", execution="none", **kw)
    revise = render("revise", expert="a solver.", solution="It is 4.", critiques="", direction="", **kw)
    shared = "Task:\n2+2?\n\nSolution:\nIt is 4.\n\n"
    assert len({m[0]["content"] for m in (critic, evaluator, revise)}) == 1
    for msgs in (critic, other_critic, evaluator, revise):
        assert msgs[1]["content"].startswith(shared)
    assert "You are a critic." in critic[1]["content"] and "You are a critic." not in critic[0]["content"]
