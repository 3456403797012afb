"""PyTorch peer of the multi-task MLP benchmark (hard parameter sharing):
Linear(128, 256) - ReLU - Linear(256, 256) - ReLU - 8 heads Linear(256, 1) (or the heads fused into one
Linear(256, 8)), loss = mean of the 8 task MSEs, Adam lr 1e-3, batch 128 shuffled, float32, from the
initial weights in the data folder (files [in, out], y = x W + b).

Usage: python3 torch_mlp.py <data folder> <threads> <separate|fused> <epochs> <steps per epoch>
Set OMP_NUM_THREADS / MKL_NUM_THREADS / OPENBLAS_NUM_THREADS to <threads> too (the bench does).
Prints one JSON line: { "samplesPerSec": [one per epoch, the first is the cold one], "cpu": CPU time /
wall time over the epochs after the first, "testLoss" (after the last epoch), "trainLoss" (mean over
the last epoch), "version", "threads", "simd" }."""
import json
import sys
import time

import numpy as np
import torch
from torch_info import simd_of_torch

BATCH = 128


def load(folder, name, shape):
    return torch.from_numpy(np.fromfile(f"{folder}/{name}", dtype="<f4").reshape(shape).copy())


def main():
    folder, threads, mode, epochs, steps = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xtr, Ytr = load(folder, "X_train.f32", (65536, 128)), load(folder, "Y_train.f32", (65536, 8))
    Xte, Yte = load(folder, "X_test.f32", (8192, 128)), load(folder, "Y_test.f32", (8192, 8))
    rows = steps * BATCH
    Xtr, Ytr = Xtr[:rows], Ytr[:rows]
    l1, l2 = torch.nn.Linear(128, 256), torch.nn.Linear(256, 256)
    with torch.no_grad():
        l1.weight.copy_(load(folder, "W1.f32", (128, 256)).T)
        l1.bias.copy_(load(folder, "b1.f32", (256,)))
        l2.weight.copy_(load(folder, "W2.f32", (256, 256)).T)
        l2.bias.copy_(load(folder, "b2.f32", (256,)))
    Wh, bh = load(folder, "Wh.f32", (256, 8)), load(folder, "bh.f32", (8,))
    if mode == "fused":
        head = torch.nn.Linear(256, 8)
        with torch.no_grad():
            head.weight.copy_(Wh.T)
            head.bias.copy_(bh)
        heads = [head]
    else:
        heads = []
        for t in range(8):
            h = torch.nn.Linear(256, 1)
            with torch.no_grad():
                h.weight.copy_(Wh[:, t : t + 1].T)
                h.bias.copy_(bh[t : t + 1])
            heads.append(h)
    trunk = torch.nn.Sequential(l1, torch.nn.ReLU(), l2, torch.nn.ReLU())
    params = list(trunk.parameters()) + [p for h in heads for p in h.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)

    def out(x):
        z = trunk(x)
        return torch.cat([h(z) for h in heads], dim=1) if len(heads) > 1 else heads[0](z)

    def loss_of(pred, y):
        # the mean over tasks of each task's MSE (every label is present)
        return ((pred - y) ** 2).mean(dim=0).mean()

    rates = []
    last = 0.0
    for epoch in range(epochs):
        perm = torch.randperm(rows)
        t0 = time.perf_counter()
        if epoch == 1:
            c1, t1 = time.process_time(), t0
        total = 0.0
        for s in range(steps):
            idx = perm[s * BATCH : (s + 1) * BATCH]
            opt.zero_grad(set_to_none=True)
            loss = loss_of(out(Xtr[idx]), Ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss)
        rates.append(rows / (time.perf_counter() - t0))
        last = total / steps
    cpu = (time.process_time() - c1) / (time.perf_counter() - t1) if epochs > 1 else None
    with torch.no_grad():
        test = float(loss_of(out(Xte), Yte))
    print(json.dumps({"samplesPerSec": rates, "cpu": cpu, "testLoss": test, "trainLoss": last, "version": torch.__version__, "threads": torch.get_num_threads(), "simd": simd_of_torch()}))


if __name__ == "__main__":
    main()
