"""Seconds per forward pass and per input gradient of each model at growing batch sizes (issue 22 point 7)."""
import sys, time, torch
from genrob.data import load_mnist
from genrob.environment import torch_device, machine
from genrob.models import load_model

device = torch_device()
data = load_mnist(download=False)
batches = [int(b) for b in sys.argv[1].split(",")]
names = sys.argv[2].split(",")
print("machine", machine(), flush=True)
def timed(step, repeats):
    step()
    if device.type == "cuda": torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    if device.type == "cuda": torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats
for name in names:
    model = load_model(name, "default", data=data, device=device)
    for b in batches:
        x = data.test.x[:b].to(device)
        def forward():
            with torch.no_grad():
                model(x)
        def gradient():
            z = x.clone().requires_grad_(True)
            torch.autograd.grad(model(z).logsumexp(-1).sum(), z)
        f, g = timed(forward, 5), timed(gradient, 5)
        print(f"{name} batch {b}: forward {f*1e3:.2f} ms, gradient {g*1e3:.2f} ms, "
              f"per image {f/b*1e3:.3f} / {g/b*1e3:.3f} ms", flush=True)
