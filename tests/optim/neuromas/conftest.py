"""NeuroMAS tests need peft + transformers; tiny models run fastest on one torch thread."""
import pytest

pytest.importorskip("peft")
pytest.importorskip("transformers")

import torch  # noqa: E402


@pytest.fixture(autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
