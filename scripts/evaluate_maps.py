#!/usr/bin/env python3
"""The table of scripts/evaluate_maps.sh: reads the `cdam query --faithfulness --boxes --json` documents
of each photo and the timings, and prints one markdown row per map.

    python3 scripts/evaluate_maps.py QUERY_DIR TIMINGS_TSV
"""
import glob
import json
import math
import os
import sys

ORDER = ["cdam", "scdam", "icdam", "am", "rollout", "rp", "tam"]
TITLES = {"cdam": "CDAM", "scdam": "Smooth CDAM", "icdam": "Integrated CDAM", "am": "AM", "rollout": "rollout",
          "rp": "RP", "tam": "TAM"}


def pearson(a, b):
    n = len(a)
    ma, mb = sum(a) / n, sum(b) / n
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    saa = sum((x - ma) ** 2 for x in a)
    sbb = sum((y - mb) ** 2 for y in b)
    return sab / math.sqrt(saa * sbb) if saa > 0 and sbb > 0 else 0.0


def mean(xs):
    return sum(xs) / len(xs) if xs else float("nan")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if n == 0:
        return float("nan")
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def ranks(values, best_low):
    """1-based ranks of values (ties share their mean rank); rank 1 is the best."""
    order = sorted(range(len(values)), key=lambda i: values[i] if best_low else -values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def main(query_dir, timings_path):
    figures = {m: {"del": [], "ins": [], "delRank": [], "insRank": [], "sparsity": [], "mass": [], "hit": [], "share": [],
                   "contrast": []} for m in ORDER}
    settings = None
    photos = 0
    for path in sorted(glob.glob(os.path.join(query_dir, "*.json"))):
        with open(path) as f:
            doc = json.load(f)
        settings = doc.get("mapSettings") or settings
        for result in doc["results"]:
            photos += 1
            targets = result["targets"]
            for t in targets:
                figs = t.get("figures") or {}
                # The maps ranked against each other on this photo and target (1: best), by their raw areas.
                present = [m for m in ORDER if m in figs]
                if len(present) == len(ORDER):
                    for m, r in zip(present, ranks([figs[m]["deletionArea"] for m in present], best_low=True)):
                        figures[m]["delRank"].append(r)
                    for m, r in zip(present, ranks([figs[m]["insertionArea"] for m in present], best_low=False)):
                        figures[m]["insRank"].append(r)
                for m, fig in figs.items():
                    if m not in figures:
                        continue
                    figures[m]["sparsity"].append(fig["sparsity"])
                    curves = fig["curves"]
                    full, empty = curves["deletion"][0], curves["deletion"][-1]
                    # Areas relative to the score with no patch (0) and with all of them (1); only where
                    # the photo raises the target's score at all.
                    if full - empty > 1e-6 * max(1.0, abs(full)):
                        figures[m]["del"].append((fig["deletionArea"] - empty) / (full - empty))
                        figures[m]["ins"].append((fig["insertionArea"] - empty) / (full - empty))
                for m, loc in (t.get("localisation") or {}).items():
                    figures[m]["mass"].append(loc["massInBox"])
                    figures[m]["hit"].append(1.0 if loc["pointingHit"] else 0.0)
                    figures[m]["share"].append(loc["boxShare"])
            if len(targets) >= 2:
                a, b = targets[0]["maps"], targets[1]["maps"]
                for m in ORDER:
                    if m in a and m in b:
                        figures[m]["contrast"].append(pearson(a[m], b[m]))

    seconds = {}
    if os.path.exists(timings_path):
        with open(timings_path) as f:
            for line in f:
                if line.strip():
                    name, wall, images = line.split("\t")
                    seconds[name] = float(wall) / int(images)
    smooth = (settings or {}).get("scdam") or {}
    integrated = (settings or {}).get("icdam") or {}
    patches = 256
    passes = {
        "cdam": "1 F + 1 B (one block)",
        "scdam": f"{smooth.get('fullPasses', '?')} F + {smooth.get('fullPasses', '?')} B",
        "icdam": f"{integrated.get('fullPasses', '?')} F + {integrated.get('fullPasses', '?')} B",
        "am": "1 F",
        "rollout": "1 F",
        "rp": "1 F + 1 B (all blocks)",
        "tam": f"1 + {patches} F",
    }
    base = seconds.get("embed")
    print(f"{photos} photos, two targets each. Deletion/insertion: each map's rank among the 7 on each photo and target "
          f"(1 best; {len(figures['cdam']['delRank'])} pairs), and the median area with the score scaled so that no patch "
          f"is 0 and all patches 1 (over the {len(figures['cdam']['del'])} pairs whose score the photo raises above no patch). "
          f"Localisation over the {len(figures['cdam']['mass'])} targets with a box; contrast over the photos' two targets.")
    print()
    print("| map | deletion rank ↓ | insertion rank ↓ | deletion area ↓ | insertion area ↑ | sparsity | mass in box ↑ | "
          "pointing game ↑ | contrast r ↓ | passes per image | s per image | s beyond one forward |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for m in ORDER:
        f = figures[m]
        s = seconds.get(m)
        cost = f"{s:.2f}" if s is not None else "n/a"
        extra = f"{s - base:.2f}" if s is not None and base is not None else "n/a"
        print(f"| {TITLES[m]} | {mean(f['delRank']):.2f} | {mean(f['insRank']):.2f} | {median(f['del']):.2f} | "
              f"{median(f['ins']):.2f} | {mean(f['sparsity']):.2f} | {mean(f['mass']):.2f} | {mean(f['hit']):.2f} | "
              f"{mean(f['contrast']):.2f} | {passes[m]} | {cost} | {extra} |")
    print()
    print(f"Chance: a uniform map puts {mean(figures['cdam']['share']):.2f} of its mass in the boxes (their mean share of the photo)."
          + (f" One forward pass (cdam embed) takes {base:.2f} s per photo with the model loaded once." if base else ""))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: evaluate_maps.py QUERY_DIR TIMINGS_TSV")
    main(sys.argv[1], sys.argv[2])
