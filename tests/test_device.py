"""The CUDA code path's device handling, run on the CPU.

PyTorch's ``meta`` device stands in for the GPU: a model moved there must compute
its logits and their input gradient there, and a tensor that a forward pass creates
on the default device (the CPU) instead of the input's raises, as it would beside a
CUDA tensor. So does a tensor kept as a plain attribute instead of a buffer, which
``.to(device)`` leaves behind.
"""

from __future__ import annotations

import pytest
import torch

from genrob.contract import model_device
from genrob.environment import torch_device
from genrob.models.registry import get_spec, load_model, model_names


@pytest.mark.parametrize("name", model_names())
def test_every_model_computes_logits_and_gradients_on_the_device_it_was_moved_to(name):
    model = get_spec(name).build_for("smoke").to("meta").eval()
    assert all(t.device.type == "meta" for t in [*model.parameters(), *model.buffers()])
    x = torch.rand(2, 1, 28, 28).to("meta").requires_grad_(True)
    logits = model(x)
    gradient, = torch.autograd.grad(logits.sum(), x)
    assert logits.device.type == "meta" and tuple(logits.shape) == (2, 10)
    assert gradient.device.type == "meta" and gradient.shape == x.shape


def test_a_tensor_left_on_the_cpu_is_caught_on_the_stand_in_device():
    class Leaky(torch.nn.Module):  # a forward that creates a tensor without the input's device
        def __init__(self) -> None:
            super().__init__()
            self.weights = torch.nn.Linear(784, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.weights(x.flatten(1)) + torch.arange(10.0)

    with pytest.raises((RuntimeError, NotImplementedError)):
        Leaky().to("meta")(torch.rand(2, 1, 28, 28).to("meta"))


def test_cuda_is_chosen_when_a_gpu_is_there(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert torch_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert torch_device() == torch.device("cpu")


def test_a_cached_checkpoint_is_loaded_onto_the_device_asked_for(models, mnist):
    # The checkpoint is stored from the CPU (map_location) and then moved whole.
    loaded = load_model("gaussian_nb", "smoke", data=mnist, device="meta")
    assert model_device(loaded).type == "meta"
    assert all(t.device.type == "meta" for t in [*loaded.parameters(), *loaded.buffers()])


def test_off_the_cpu_the_chunks_are_large_and_on_it_as_the_model_asks():
    # On a GPU a chunk of 5 images costs its kernel launches whatever its size: chunks there are large.
    from genrob.contract import ACCELERATOR_CHUNK_IMAGES, in_chunks

    def sizes(device: str) -> list[int]:
        seen: list[int] = []
        x = torch.zeros(2 * ACCELERATOR_CHUNK_IMAGES + 7, 1, 28, 28, device=device)
        out = in_chunks(lambda part: seen.append(len(part)) or part.sum((1, 2, 3)), x, 5)
        assert out.shape == (len(x),) and out.device.type == device
        return seen

    assert sizes("meta") == [ACCELERATOR_CHUNK_IMAGES, ACCELERATOR_CHUNK_IMAGES, 7]
    assert sizes("cpu") == [5] * (2 * ACCELERATOR_CHUNK_IMAGES // 5 + 1) + [2]
