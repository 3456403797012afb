"""Conv-4 few-shot episode peer: PyTorch ProtoNet training episode on the conv-4 backbone (four
blocks of Conv2d(3x3, 64, padding 1), BatchNorm2d, ReLU, MaxPool2d(2); Snell et al. 2017), one
forward, backward and Adam (lr 1e-3) update per episode, squared euclidean distances to the class
prototypes, cross-entropy on the queries.
Usage: python3 torch_conv4.py <episode.f32> <ways> <shots> <queries> <threads> <warmup> <repeats>
The episode file holds (ways * shots + ways * queries) images of 28 x 28 float32: the support set
(class-major, `shots` per class) then the query set (class-major, `queries` per class).
Prints one JSON line: { "ms": [one time per repeat], "loss": last loss, "version" }."""
import json
import sys
import time

import numpy as np
import torch


def block(cin, cout):
    return torch.nn.Sequential(
        torch.nn.Conv2d(cin, cout, 3, padding=1),
        torch.nn.BatchNorm2d(cout),
        torch.nn.ReLU(),
        torch.nn.MaxPool2d(2),
    )


def main():
    path, ways, shots, queries, threads, warmup, repeats = sys.argv[1], *map(int, sys.argv[2:8])
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n = ways * (shots + queries)
    x = torch.from_numpy(np.fromfile(path, dtype="<f4").reshape(n, 1, 28, 28).copy())
    model = torch.nn.Sequential(block(1, 64), block(64, 64), block(64, 64), block(64, 64), torch.nn.Flatten())
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    labels = torch.arange(ways).repeat_interleave(queries)
    model.train()

    def episode():
        emb = model(x)
        support = emb[: ways * shots].reshape(ways, shots, -1).mean(dim=1)
        query = emb[ways * shots :]
        dists = ((query[:, None, :] - support[None, :, :]) ** 2).sum(dim=2)
        loss = torch.nn.functional.cross_entropy(-dists, labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(warmup):
        episode()
    times = []
    cpu = []
    loss = 0.0
    for _ in range(repeats):
        t0 = time.perf_counter(); c0 = time.process_time()
        loss = episode()
        times.append(1000 * (time.perf_counter() - t0)); cpu.append(1000 * (time.process_time() - c0))
    print(json.dumps({"ms": times, "cpuMs": cpu, "loss": loss, "version": torch.__version__}))


if __name__ == "__main__":
    main()
