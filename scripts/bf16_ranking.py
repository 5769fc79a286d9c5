"""bf16 against fp32 on a folder of photos (issue 17's retrieval check): embeds every photo with
`cdam embed --json --precision fp32` and `--precision bf16`, then reports the embeddings' cosine and, for
concepts made of classes of the ImageNet samples (mean of the class's embeddings minus the mean of all,
from the fp32 embeddings, as a stored concept is), the Spearman correlation of the two rankings of all
photos and the overlap of their top 20. Not a test: it needs ../shared/images.

    python3 scripts/bf16_ranking.py [--cdam .build/release/cdam] [IMAGES_DIR]
"""
import argparse
import json
import os
import subprocess
import sys

import numpy as np

# Concepts as sets of ImageNet classes: WordNet id ranges, or lists (the samples are named nWNID_label.JPEG).
CONCEPTS = {
    "dog": ("n02085620", "n02113978"),
    "bird": ("n01514668", "n01582220"),
    "snake": ("n01728572", "n01756291"),
    "car/truck": {"n02701002", "n02814533", "n02930766", "n03100240", "n03594945", "n03670208", "n03770679",
                  "n03777568", "n04037443", "n04285008", "n03417042", "n03796401", "n03930630", "n04461696",
                  "n04467665"},
}


def embed(cdam, images, precision):
    out = subprocess.run([cdam, "embed", images, "--json", "--precision", precision],
                         capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout)
    return {os.path.basename(r["image"]): np.array(r["embedding"], dtype=np.float64) for r in doc["results"]}


def ranks(x):
    order = np.argsort(x)
    r = np.empty(len(x))
    r[order] = np.arange(len(x))
    return r


def spearman(a, b):
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("images", nargs="?", default="../shared/images/imagenet-samples")
    p.add_argument("--cdam", default=".build/release/cdam")
    args = p.parse_args()
    a = embed(args.cdam, args.images, "fp32")
    b = embed(args.cdam, args.images, "bf16")
    names = sorted(a)
    A = np.stack([a[n] for n in names])
    B = np.stack([b[n] for n in names])
    cos = (A * B).sum(1) / np.linalg.norm(A, axis=1) / np.linalg.norm(B, axis=1)
    print(f"{len(names)} photos: embedding cosine fp32 vs bf16 min {cos.min():.5f}, median {np.median(cos):.5f}")
    wnid = [n.split("_")[0] for n in names]
    mean = A.mean(0)
    worst = 1.0
    for concept, classes in CONCEPTS.items():
        inside = (lambda w: w in classes) if isinstance(classes, set) else (lambda w: classes[0] <= w <= classes[1])
        members = [i for i, w in enumerate(wnid) if inside(w)]
        if len(members) < 3:
            continue
        d = A[members].mean(0) - mean
        sa = A @ d / np.linalg.norm(A, axis=1)
        sb = B @ d / np.linalg.norm(B, axis=1)
        rho = spearman(sa, sb)
        worst = min(worst, rho)
        top = len(set(np.argsort(-sa)[:20]) & set(np.argsort(-sb)[:20]))
        print(f"concept {concept:10} ({len(members):3} examples): Spearman {rho:.5f}, top-20 overlap {top}/20")
    print(f"worst Spearman {worst:.5f} ({'>= 0.99: passes' if worst >= 0.99 else 'below 0.99'})")
    return 0 if worst >= 0.99 else 1


if __name__ == "__main__":
    sys.exit(main())
