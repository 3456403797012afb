"""W1 peer (shared/BENCH.md): scikit-learn MultiTaskLasso(alpha, fit_intercept=False, tol=1e-8) on
../shared/data/w1, the problem min_W (1/(2n)) ||Y - X W||_F^2 + alpha sum_j ||W[j,:]||_2 solved by
scikit-learn's enet_coordinate_descent_multi_task (Friedman, Hastie & Tibshirani 2010).
Usage: python3 sklearn_w1.py <w1 folder> <alpha> <runs> <tol>; one JSON line on stdout.
Run with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1 (bench/w1.ts sets them)."""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import MultiTaskLasso


def main():
    folder, alpha, runs, tol = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    X = np.fromfile(f"{folder}/X.f64", dtype="<f8").reshape(2000, 1000)
    Y = np.fromfile(f"{folder}/Y.f64", dtype="<f8").reshape(2000, 20)
    # scikit-learn copies X to Fortran order inside fit; give it that layout up front, as a user would.
    X = np.asfortranarray(X)
    Y = np.asfortranarray(Y)
    times = []
    model = None
    for r in range(runs + 1):  # the first run is a warm-up
        m = MultiTaskLasso(alpha=alpha, fit_intercept=False, tol=tol)
        t0 = time.perf_counter()
        m.fit(X, Y)
        t1 = time.perf_counter()
        if r > 0:
            times.append(t1 - t0)
        model = m
    W = model.coef_.T
    R = Y - X @ W
    obj = float((R * R).sum() / (2 * X.shape[0]) + alpha * np.sqrt((W * W).sum(axis=1)).sum())
    print(json.dumps({
        "version": sklearn.__version__,
        "numpy": np.__version__,
        "times": times,
        "objective": obj,
        "nIter": int(model.n_iter_),
        "nonZeroRows": int((np.abs(W).sum(axis=1) > 0).sum()),
    }))


if __name__ == "__main__":
    main()
