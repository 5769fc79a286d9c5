"""Writes the fixture the Swift softmax-regression test compares with: small embedding sets and
scikit-learn's LogisticRegression fitted on them (multinomial, L2, the same C, no class weights).

    python3 scripts/reference/heads_reference.py --out Tests/ConceptsTests/Fixtures/heads_reference.json

The embeddings are synthetic but shaped like CLS embeddings: K class means on a shared offset,
anisotropic noise, overlapping classes (so the optimum is interior, not separable). Values are rounded
to float32 before fitting and written in float32's shortest form: Swift reads them as Float, so both fit
exactly the same numbers. (C alone sets the L2 penalty in sklearn >= 1.8.) sklearn minimises
0.5 |W|^2 + C * sum_i CE_i with the bias unpenalised; the fixture records W, b and that objective.
"""
import argparse
import json

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression


def objective(w, b, x, y, c):
    z = x @ w.T + b
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    ce = lse - z[np.arange(len(y)), y]
    return 0.5 * float((w * w).sum()) + c * float(ce.sum())


def make_set(rng, n_per_class, k, d, spread):
    offset = rng.normal(0, 1.0, d)
    means = offset + rng.normal(0, 1.0, (k, d))
    scales = np.exp(rng.normal(0, 0.5, d))  # anisotropic, as real embedding dimensions are
    x, y = [], []
    for c in range(k):
        x.append(means[c] + spread * rng.normal(0, 1.0, (n_per_class[c], d)) * scales)
        y += [c] * n_per_class[c]
    return np.vstack(x).astype(np.float32).astype(np.float64), np.array(y)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    rng = np.random.default_rng(13)
    cases = []
    for name, counts, d, spread, c in [
        ("four-classes-overlapping", [30, 25, 35, 30], 48, 2.0, 1.0),
        ("four-classes-strong-penalty", [30, 25, 35, 30], 48, 2.0, 0.01),
        ("ten-classes-wide", [12] * 10, 96, 1.5, 0.1),
    ]:
        x, y = make_set(rng, counts, len(counts), d, spread)
        model = LogisticRegression(C=c, solver="lbfgs", tol=1e-12, max_iter=100000)
        model.fit(x, y)
        w, b = model.coef_, model.intercept_
        cases.append({
            "name": name, "C": c, "classes": len(counts), "width": d,
            "rows": [[float(str(np.float32(v))) for v in row] for row in x], "labels": [int(v) for v in y],
            "weights": w.tolist(), "bias": b.tolist(), "objective": objective(w, b, x, y, c),
            "iterations": int(model.n_iter_[0]),
        })
        print(f"{name}: objective {cases[-1]['objective']:.10g}, {cases[-1]['iterations']} iterations")
    with open(args.out, "w") as f:
        json.dump({"sklearn": sklearn.__version__, "cases": cases}, f)


if __name__ == "__main__":
    main()
