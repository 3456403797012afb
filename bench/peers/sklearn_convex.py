"""Convex benchmark peer: scikit-learn's MultiTaskLasso, MultiTaskElasticNet, MultiTaskLassoCV or
MultiTaskElasticNetCV on the problem of a bench job (the JSON file bench/convexFit.ts reads: data
folder with X.f64 n x d and Y.f64 n x T, row-major float64; model; options camelCased).
Usage: python3 sklearn_convex.py <job.json>; one JSON line on stdout: times and cpuTimes (wall-clock and
process CPU seconds of each fit, the first is the cold fit of this process), objective (scikit-learn's, as bench/convexFit.ts computes it), nIter,
nonZeroRows, alpha (CV). Run with OMP_NUM_THREADS=OPENBLAS_NUM_THREADS=1 (the bench sets them)."""
import json
import sys
import time

import numpy as np
import sklearn
from sklearn.linear_model import MultiTaskElasticNet, MultiTaskElasticNetCV, MultiTaskLasso, MultiTaskLassoCV

NAMES = {"alpha": "alpha", "l1Ratio": "l1_ratio", "fitIntercept": "fit_intercept", "tol": "tol", "maxIter": "max_iter",
         "nAlphas": "n_alphas", "eps": "eps", "cv": "cv", "alphas": "alphas"}
MODELS = {"lasso": MultiTaskLasso, "enet": MultiTaskElasticNet, "lassoCV": MultiTaskLassoCV, "enetCV": MultiTaskElasticNetCV}


def more_warm_fits(job, done, seconds):
    """bench/convexFit.ts moreWarmFits: at least warmRuns warm fits, then until they took warmSeconds, at most maxWarmRuns."""
    if done < job["warmRuns"]:
        return True
    return done < job.get("maxWarmRuns", job["warmRuns"]) and seconds < job.get("warmSeconds", 0)


def main():
    with open(sys.argv[1]) as f:
        job = json.load(f)
    n, d, T = job["n"], job["d"], job["T"]
    X = np.fromfile(f"{job['folder']}/X.f64", dtype="<f8").reshape(n, d)
    Y = np.fromfile(f"{job['folder']}/Y.f64", dtype="<f8").reshape(n, T)
    # scikit-learn copies X to Fortran order inside fit; give it that layout up front, as a user would.
    X = np.asfortranarray(X)
    Y = np.asfortranarray(Y)
    kwargs = {NAMES[k]: v for k, v in job["options"].items()}
    cls = MODELS[job["model"]]
    times = []
    cpu_times = []
    model = None
    while len(times) == 0 or more_warm_fits(job, len(times) - 1, sum(times[1:])):
        model = cls(**kwargs)
        c0 = time.process_time()
        t0 = time.perf_counter()
        model.fit(X, Y)
        times.append(time.perf_counter() - t0)
        cpu_times.append(time.process_time() - c0)
    W = model.coef_.T
    alpha = float(model.alpha_ if job["model"].endswith("CV") else model.alpha)
    l1 = 1.0 if job["model"].startswith("lasso") else float(model.l1_ratio_ if job["model"].endswith("CV") else model.l1_ratio)
    R = Y - X @ W - model.intercept_
    obj = float((R * R).sum() / (2 * n) + alpha * l1 * np.sqrt((W * W).sum(axis=1)).sum() + alpha * (1 - l1) / 2 * (W * W).sum())
    out = {
        "version": sklearn.__version__,
        "numpy": np.__version__,
        "times": times,
        "cpuTimes": cpu_times,
        "objective": obj,
        "nIter": int(model.n_iter_),
        "nonZeroRows": int((np.abs(W).sum(axis=1) > 0).sum()),
    }
    if job["model"].endswith("CV"):
        out["alpha"] = alpha
        out["l1Ratio"] = l1
    print(json.dumps(out))


if __name__ == "__main__":
    main()
