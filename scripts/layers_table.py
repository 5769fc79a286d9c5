"""Retrieval average precision of concepts defined at several blocks, on embeddings cdam stored
(issue 14's table, reproduced with cdam itself). Run by scripts/layers_table.sh, which indexes the photos
at each block first; this reads those embeddings from the database and does the concept arithmetic.

For each concept (a group of ImageNet classes found by synset or label), draw 8 examples (5 draws, seeded),
build the concept at each block in four kinds, rank every other photo, and take the average precision of
the group's other photos. Background for centred/cosine/probe: 200 random non-example photos (unlabelled,
as a user's collection: it may hold positives).
"""
import argparse
import os
import sqlite3
import sys

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score


def group_of(name):
    synset, _, label = name.partition("_")
    label = label.rsplit(".", 1)[0].lower().replace("_", " ")
    n = int(synset[1:])
    if 2085620 <= n <= 2113978:
        return "dog"
    if 1514668 <= n <= 1622779 or 1795545 <= n <= 1855672 or 2002724 <= n <= 2058221:
        return "bird"
    vehicles = ("car", "truck", "bus", "van", "cab", "jeep", "limousine", "ambulance", "fire engine", "tractor",
                "trailer", "scooter", "moped", "bicycle", "tricycle", "locomotive", "streetcar", "tank", "go-kart",
                "snowmobile", "forklift", "wagon", "pickup", "racer", "convertible", "minivan", "motorcycle")
    instruments = ("violin", "cello", "guitar", "banjo", "harp", "piano", "organ", "accordion", "trumpet", "trombone",
                   "horn", "sax", "flute", "oboe", "bassoon", "drum", "chime", "gong", "harmonica", "marimba",
                   "maraca", "ocarina", "panpipe", "cornet", "steel drum", "upright", "grand")
    words = label.split()
    if any(v in words or label.endswith(v) for v in vehicles):
        return "vehicle"
    if any(i in words or label.endswith(i) for i in instruments):
        return "instrument"
    return None


def load(db, preprocessing, collection):
    rows = sqlite3.connect(db).execute(
        """SELECT ci.path, e.vector FROM collection_images ci JOIN collections c ON c.id = ci.collection_id
           JOIN embeddings e ON e.image_id = ci.image_id WHERE c.name = ? AND e.preprocessing_id = ?
           ORDER BY ci.path""", (collection, preprocessing)).fetchall()
    names = [os.path.basename(p) for p, _ in rows]
    return names, np.stack([np.frombuffer(v, dtype="<f4") for _, v in rows]).astype(np.float64)


def scores(kind, x, pos, bg):
    c = x[pos].mean(0)
    mu = x[bg].mean(0)
    if kind == "mean":
        return x @ c
    if kind == "centred":
        return (x - mu) @ (c - mu)
    if kind == "cosine of centred":
        a, w = x - mu, c - mu
        return a @ w / (np.linalg.norm(a, axis=1) * np.linalg.norm(w) + 1e-12)
    if kind == "probe":
        xs = np.concatenate([x[pos], x[bg]])
        ys = np.concatenate([np.ones(len(pos)), np.zeros(len(bg))])
        m, s = xs.mean(0), xs.std(0) + 1e-6
        clf = LogisticRegression(C=1.0, max_iter=2000, class_weight="balanced").fit((xs - m) / s, ys)
        return clf.decision_function((x - m) / s)
    raise ValueError(kind)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--db", required=True)
    p.add_argument("--collection", default="layers-table")
    p.add_argument("--blocks", default="12,11,10,8")
    p.add_argument("--examples", type=int, default=8)
    p.add_argument("--draws", type=int, default=5)
    a = p.parse_args()
    kinds = ["mean", "centred", "cosine of centred", "probe"]
    print(f"| representation | {' | '.join(kinds)} |")
    print("|---|" + "---|" * len(kinds))
    concepts_used = None
    for block in [int(b) for b in a.blocks.split(",")]:
        pid = "pil-bicubic-224x224" + ("" if block == 12 else f"@block{block}")
        names, x = load(a.db, pid, a.collection)
        groups = np.array([group_of(n) or "" for n in names])
        concepts = [g for g in ("dog", "bird", "vehicle", "instrument") if (groups == g).sum() >= a.examples + 4]
        concepts_used = {g: int((groups == g).sum()) for g in concepts}
        ap = {k: [] for k in kinds}
        for g in concepts:
            members = np.flatnonzero(groups == g)
            for draw in range(a.draws):
                rng = np.random.default_rng(1000 * draw + len(g))
                pos = rng.choice(members, a.examples, replace=False)
                rest = np.setdiff1d(np.arange(len(names)), pos)
                bg = rng.choice(rest, min(200, len(rest)), replace=False)
                y = (groups[rest] == g).astype(int)
                for k in kinds:
                    ap[k].append(average_precision_score(y, scores(k, x, pos, bg)[rest]))
        label = f"CLS after block {block}" + (" (the default)" if block == 12 else "")
        print(f"| {label} | " + " | ".join(f"{np.mean(ap[k]):.3f}" for k in kinds) + " |")
    print(f"\n{len(names)} photos; concepts (photos): {concepts_used}; {a.examples} examples, mean of {a.draws} draws",
          file=sys.stderr)


if __name__ == "__main__":
    main()
