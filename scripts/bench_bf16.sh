#!/usr/bin/env bash
# Issue 17's figures in one run: `cdam bench bf16` (the VDPBF16PS and fp32 FMA peaks, then the fc1-shaped
# linear product, the forward pass at batch 8 and TAM at 224, fp32 and bf16 in turns inside one process) and
# PyTorch's fp32 forward pass at batch 8 (scripts/reference/bench_torch.py) right after it, --rounds times.
# Reports each measure's median over the rounds. Needs torch and transformers for the PyTorch side.
#   bash scripts/bench_bf16.sh [--rounds R] [--reps N]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=3; reps=5
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds="$2"; shift ;;
        --reps) reps="$2"; shift ;;
        *) echo "usage: bench_bf16.sh [--rounds R] [--reps N]" >&2; exit 2 ;;
    esac
    shift
done
export CDAM_HOME="${CDAM_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cdam}"
swift build -c release --product cdam 2>&1 | tail -n 1 >&2
cdam=.build/release/cdam
model="$CDAM_HOME/models/dinov2-small-imgfocus"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
for round in $(seq "$rounds"); do
    echo "round $round: cdam bench bf16 ..." >&2
    $cdam bench bf16 --batch 8 --repeats "$reps" --json > "$work/cdam-$round.json"
    echo "round $round: PyTorch forward ..." >&2
    python3 scripts/reference/bench_torch.py --model "$model" --reps "$reps" --phases forward --json \
        > "$work/torch-$round.json" 2>/dev/null || echo "PyTorch side failed (pip install torch transformers)" >&2
done
python3 - "$work" <<'PY'
import glob, json, os, statistics, sys
work = sys.argv[1]
cdam, torch = {}, {}
for path in sorted(glob.glob(os.path.join(work, "cdam-*.json"))):
    for f in json.load(open(path))["figures"]:
        cdam.setdefault(f["name"], []).append(f)
for path in sorted(glob.glob(os.path.join(work, "torch-*.json"))):
    try:
        doc = json.load(open(path))
    except ValueError:
        continue
    for r in doc["results"]:
        torch.setdefault(r["measure"], []).append(r["median"])
med = statistics.median
print(f"{'measure':46} {'median':>12} {'GFLOP/s':>9}  rounds")
for name, fs in cdam.items():
    ms = [f["milliseconds"] for f in fs]; g = [f["gflops"] for f in fs]
    extra = f"  speed-up vs fp32 {med([f['ratio'] for f in fs]):.2f}x" if fs[0].get("ratio") else ""
    print(f"{name:46} {med(ms):10.2f}ms {med(g):9.1f}  {len(fs)}{extra}")
for name, v in torch.items():
    print(f"PyTorch {name:38} {med(v):10.2f}ms {'':9}  {len(v)}")
fwd = {p: med([f["milliseconds"] for f in cdam.get(f"forward 224x224 batch 8 {p}", [{"milliseconds": float('nan')}])]) for p in ("fp32", "bf16")}
t8 = [v for k, v in torch.items() if "batch 8" in k]
if t8:
    t = med(t8[0])
    print(f"forward batch 8: bf16 {fwd['bf16']:.1f} ms/image, fp32 {fwd['fp32']:.1f}, PyTorch fp32 {t:.1f}: "
          f"bf16 is {fwd['fp32'] / fwd['bf16']:.2f}x cdam fp32 and {t / fwd['bf16']:.2f}x PyTorch")
PY
