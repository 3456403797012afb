"""W3 peer (shared/BENCH.md): MAML on sinusoids in PyTorch, looping over the tasks of a meta-batch.
MLP 1-40-40-1 ReLU (nn.Linear default init), inner loop 1 SGD step lr 0.01 on the support MSE,
outer Adam lr 1e-3 on the mean query MSE of 25 tasks (10 support + 10 query points each).
Usage: python3 torch_w3.py <threads>; one JSON line on stdout:
{ "second": [meta-iterations/s of 3 runs of 200], "first": [...], "version" }."""
import json
import math
import sys
import time

import numpy as np
import torch


def main():
    torch.set_num_threads(int(sys.argv[1]))
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    layers = [torch.nn.Linear(1, 40), torch.nn.Linear(40, 40), torch.nn.Linear(40, 1)]
    params = []
    for l in layers:
        params += [l.weight.detach().T.contiguous().requires_grad_(), l.bias.detach().clone().requires_grad_()]

    def forward(p, x):
        h = torch.relu(x @ p[0] + p[1])
        h = torch.relu(h @ p[2] + p[3])
        return h @ p[4] + p[5]

    def tasks(k):
        out = []
        for _ in range(k):
            a, ph = rng.uniform(0.1, 5), rng.uniform(0, math.pi)
            x = rng.uniform(-5, 5, size=(20, 1)).astype(np.float32)
            y = (a * np.sin(x - ph)).astype(np.float32)
            x, y = torch.from_numpy(x), torch.from_numpy(y)
            out.append((x[:10], y[:10], x[10:], y[10:]))
        return out

    opt = torch.optim.Adam(params, lr=1e-3)

    def step(first_order):
        opt.zero_grad()
        total = 0
        for xs, ys, xq, yq in tasks(25):
            ls = torch.mean((forward(params, xs) - ys) ** 2)
            g = torch.autograd.grad(ls, params, create_graph=not first_order)
            fast = [p - 0.01 * gi for p, gi in zip(params, g)]
            total = total + torch.mean((forward(fast, xq) - yq) ** 2)
        (total / 25).backward()
        opt.step()

    result = {"version": torch.__version__}
    for name, fo in (("second", False), ("first", True)):
        for _ in range(20):
            step(fo)
        rates = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(200):
                step(fo)
            rates.append(200 / (time.perf_counter() - t0))
        result[name] = rates
    print(json.dumps(result))


main()
