"""PyTorch peer of the MAML sinusoid benchmark (Finn et al. 2017): MLP 1-40-40-1 ReLU (nn.Linear's
default init), inner loop 1 SGD step lr 0.01 on the support MSE, outer Adam lr 1e-3 on the mean query
MSE of 25 tasks (10 support + 10 query points each, y = A sin(x - phase), A ~ U[0.1, 5],
phase ~ U[0, pi], x ~ U[-5, 5]).

Two ways to write it:
- loop: one task at a time (the usual tutorial code and learn2learn's pattern);
- batched: the 25 tasks at once, parameters expanded to [tasks, ...] and products by bmm, so the
  per-task inner gradients come from one backward pass (the fastest plain-PyTorch form we know).
After the timing, the script checks its meta-gradient on a fixed meta-batch against the reference
file (second and first order) and reports the largest relative error.

Usage: python3 torch_maml.py <threads> <loop|batched> <second|first> <iterations> <runs> <min seconds> [check.json]
After the 20 cold iterations, one run of <iterations> sets the length of the timed runs: at least
<iterations> meta-iterations and <min seconds> each (the rule metatask's side follows).
Set OMP_NUM_THREADS / MKL_NUM_THREADS / OPENBLAS_NUM_THREADS to <threads> too (the bench does).
Prints one JSON line: { "cold": it/s of the first 20 iterations, "rates": [it/s of each run],
"cpu": CPU time / wall time over the runs, "version", "threads", "simd", "checkError" }."""
import json
import math
import re
import sys
import time

import numpy as np
import torch
from torch_info import simd_of_torch

TASKS, SHOTS, INNER_LR = 25, 10, 0.01


def forward_loop(p, x):
    h = torch.relu(x @ p[0] + p[1])
    h = torch.relu(h @ p[2] + p[3])
    return h @ p[4] + p[5]


def forward_batched(p, x):
    # p[k] is [tasks, in, out] (weights) or [tasks, out] (biases); x is [tasks, points, in].
    h = torch.relu(torch.baddbmm(p[1].unsqueeze(1), x, p[0]))
    h = torch.relu(torch.baddbmm(p[3].unsqueeze(1), h, p[2]))
    return torch.baddbmm(p[5].unsqueeze(1), h, p[4])


def meta_loss_loop(params, batch, first_order):
    xs, ys, xq, yq = batch
    total = 0
    for t in range(xs.shape[0]):
        ls = torch.mean((forward_loop(params, xs[t]) - ys[t]) ** 2)
        g = torch.autograd.grad(ls, params, create_graph=not first_order)
        fast = [p - INNER_LR * gi for p, gi in zip(params, g)]
        total = total + torch.mean((forward_loop(fast, xq[t]) - yq[t]) ** 2)
    return total / xs.shape[0]


def meta_loss_batched(params, batch, first_order):
    xs, ys, xq, yq = batch
    k = xs.shape[0]
    expanded = [p.unsqueeze(0).expand(k, *p.shape) for p in params]
    # The sum of the per-task support losses: its gradient with respect to task t's copy of the
    # parameters is task t's own inner gradient.
    ls = ((forward_batched(expanded, xs) - ys) ** 2).mean(dim=(1, 2)).sum()
    g = torch.autograd.grad(ls, expanded, create_graph=not first_order)
    fast = [e - INNER_LR * gi for e, gi in zip(expanded, g)]
    return ((forward_batched(fast, xq) - yq) ** 2).mean(dim=(1, 2)).mean()


def check(path, meta_loss):
    """Largest relative error of this implementation's meta-gradient against the reference."""
    ref = json.load(open(path))
    worst = 0.0
    for order in ("second_order", "first_order"):
        params = [torch.tensor(v, dtype=torch.float32).reshape(s).requires_grad_() for v, s in zip(ref["init_params"], ref["shapes"])]
        batch = [torch.tensor(ref[k], dtype=torch.float32).unsqueeze(-1) for k in ("x_support", "y_support", "x_query", "y_query")]
        loss = meta_loss(params, batch, order == "first_order")
        grads = torch.autograd.grad(loss, params)
        for g, r in zip(grads, ref[order]["grads"]):
            r = torch.tensor(r, dtype=torch.float32).reshape(g.shape)
            worst = max(worst, float((g - r).abs().max() / r.abs().max().clamp_min(1e-12)))
    return worst


def main():
    threads, mode, order, iterations, runs = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    min_seconds = float(sys.argv[6])
    check_file = sys.argv[7] if len(sys.argv) > 7 else None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    first_order = order == "first"
    meta_loss = meta_loss_batched if mode == "batched" else meta_loss_loop
    layers = [torch.nn.Linear(1, 40), torch.nn.Linear(40, 40), torch.nn.Linear(40, 1)]
    params = []
    for layer in layers:  # layout [in, out]: y = x W + b
        params += [layer.weight.detach().T.contiguous().requires_grad_(), layer.bias.detach().clone().requires_grad_()]
    opt = torch.optim.Adam(params, lr=1e-3)

    def sample():
        a = rng.uniform(0.1, 5, size=(TASKS, 1, 1))
        phase = rng.uniform(0, math.pi, size=(TASKS, 1, 1))
        x = rng.uniform(-5, 5, size=(TASKS, 2 * SHOTS, 1))
        y = a * np.sin(x - phase)
        x, y = torch.from_numpy(x.astype(np.float32)), torch.from_numpy(y.astype(np.float32))
        return x[:, :SHOTS], y[:, :SHOTS], x[:, SHOTS:], y[:, SHOTS:]

    def step():
        opt.zero_grad(set_to_none=True)
        meta_loss(params, sample(), first_order).backward()
        opt.step()

    def rate(n):
        t0 = time.perf_counter()
        for _ in range(n):
            step()
        return n / (time.perf_counter() - t0)

    cold = rate(20)
    n = max(iterations, math.ceil(min_seconds * rate(iterations)))
    c0, t0 = time.process_time(), time.perf_counter()
    rates = [rate(n) for _ in range(runs)]
    cpu = (time.process_time() - c0) / (time.perf_counter() - t0)
    out = {"cold": cold, "rates": rates, "cpu": cpu, "version": torch.__version__, "threads": torch.get_num_threads(), "simd": simd_of_torch()}
    if check_file:
        out["checkError"] = check(check_file, meta_loss)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
