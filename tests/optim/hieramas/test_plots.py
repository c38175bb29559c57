"""The stage-1 plot: reward curve, entropy vs ln(options), role x model preferences."""
import pytest

from mastune.optim.hieramas.plots import plot_stage1


def test_plot_stage1_writes_a_png_and_refuses_an_empty_log(tmp_path):
    log = [{"iteration": i, "reward": -1 + i / 2, "entropy": 1.3 - i / 5, "entropy_after": 1.2 - i / 5,
            "entropy_t1": 1.0, "entropy_uniform": 1.386, "val": {"reward": i / 3} if i % 2 else None,
            "prefs": {"Critic": {"a": 0.7, "b": 0.2, "skip": 0.1}, "Doctor": {"a": 0.1, "b": 0.8, "skip": 0.1}}}
           for i in range(4)]
    path = plot_stage1(log, tmp_path / "sub" / "stage1.png")
    assert path.is_file() and path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="empty"):
        plot_stage1([], tmp_path / "x.png")
