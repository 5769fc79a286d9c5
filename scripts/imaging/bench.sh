#!/usr/bin/env bash
# Decode + preprocess (224 x 224) throughput, Pillow and Swift in the same run.
#   scripts/imaging/bench.sh [IMAGES_DIR] [SIZE]
set -euo pipefail
DIR=${1:-/work/shared/images/imagenet-samples}
SIZE=${2:-224}
cd "$(dirname "$0")/../.."
cat "$DIR"/* > /dev/null   # warm the page cache for both sides
python3 - "$DIR" "$SIZE" <<'PY'
import os, sys, time
import numpy as np
from PIL import Image
d, size = sys.argv[1], int(sys.argv[2])
paths = sorted(os.path.join(d, f) for f in os.listdir(d))
mean = np.array([0.485, 0.456, 0.406], dtype=np.float32)
std = np.array([0.229, 0.224, 0.225], dtype=np.float32)
def run(ps):
    fails = 0
    for p in ps:
        try:
            im = Image.open(p).convert("RGB").resize((size, size), Image.BICUBIC)
            x = ((np.asarray(im, dtype=np.float32) / 255.0 - mean) / std).transpose(2, 0, 1)
        except Exception:
            fails += 1
    return fails
run(paths[:50])
best = float("inf")
for _ in range(3):
    t = time.perf_counter(); fails = run(paths); best = min(best, time.perf_counter() - t)
print(f"pillow {Image.__version__:<11} {len(paths):4d} images  {best:7.3f} s  {len(paths)/best:7.1f} images/s  failures {fails}")
PY
CDAM_BENCH_IMAGES="$DIR" CDAM_BENCH_SIZE="$SIZE" swift test --filter ImagingTests.benchmarkOnSharedImages 2>&1 \
    | grep -E "^swift|error" || true
