"""W2 peer (shared/BENCH.md): PyTorch multi-task MLP with hard parameter sharing,
Linear(128, 256) - ReLU - Linear(256, 256) - ReLU - 8 heads Linear(256, 1) (or the heads fused into one
Linear(256, 8)), loss = mean of the 8 task MSEs, Adam lr 1e-3, batch 128 shuffled, 512 steps per epoch,
float32, from the initial weights in ../shared/data/w2.
Usage: python3 torch_w2.py <w2 folder> <threads> <separate|fused>; one JSON line on stdout:
{ "samplesPerSec": [3 epochs after a warm-up], "testLoss": after 5 epochs, "trainLoss": ..., "version" }."""
import json
import sys
import time

import numpy as np
import torch


def load(folder, name, shape):
    return torch.from_numpy(np.fromfile(f"{folder}/{name}", dtype="<f4").reshape(shape).copy())


def main():
    folder, threads, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    Xtr, Ytr = load(folder, "X_train.f32", (65536, 128)), load(folder, "Y_train.f32", (65536, 8))
    Xte, Yte = load(folder, "X_test.f32", (8192, 128)), load(folder, "Y_test.f32", (8192, 8))
    l1, l2 = torch.nn.Linear(128, 256), torch.nn.Linear(256, 256)
    with torch.no_grad():
        # Files are [in, out] (y = x W + b); nn.Linear stores [out, in].
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
        # mean over tasks of each task's MSE == mean over all entries (every label present)
        return ((pred - y) ** 2).mean(dim=0).mean()

    rates = []
    last = 0.0
    for epoch in range(5):
        perm = torch.randperm(65536)
        t0 = time.perf_counter()
        total = 0.0
        for s in range(512):
            idx = perm[s * 128 : (s + 1) * 128]
            opt.zero_grad(set_to_none=True)
            loss = loss_of(out(Xtr[idx]), Ytr[idx])
            loss.backward()
            opt.step()
            total += float(loss)
        dt = time.perf_counter() - t0
        last = total / 512
        if 1 <= epoch <= 3:
            rates.append(65536 / dt)
    with torch.no_grad():
        test = float(loss_of(out(Xte), Yte))
    print(json.dumps({"samplesPerSec": rates, "testLoss": test, "trainLoss": last, "version": torch.__version__}))


if __name__ == "__main__":
    main()
