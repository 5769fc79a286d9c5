#!/usr/bin/env bash
# cdam's benchmarks beside PyTorch's, in the same run on the same converted weights (2 threads, fp32).
# Each suite runs in its own process so its peak RSS is its own. Needs torch and transformers for the
# PyTorch side (pip install torch transformers); --cdam-only skips it.
#   bash scripts/bench.sh [--cdam-only] [--reps N]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5; torch=1
while [ $# -gt 0 ]; do
    case "$1" in
        --cdam-only) torch=0 ;;
        --reps) reps="$2"; shift ;;
        *) echo "usage: bench.sh [--cdam-only] [--reps N]" >&2; exit 2 ;;
    esac
    shift
done
export CDAM_HOME="${CDAM_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cdam}"
swift build -c release 2>&1 | tail -n 1 >&2
cdam=.build/release/cdam
$cdam model fetch >&2
work="$(mktemp -d)"
echo "cdam suites ..." >&2
$cdam bench sgemm --repeats "$reps" --json > "$work/sgemm.json"
$cdam bench forward --repeats "$reps" --json > "$work/forward.json"
$cdam bench cdam --size 224 --repeats "$reps" --json > "$work/cdam224.json"
$cdam bench cdam --size 448 --repeats "$(( (reps + 1) / 2 ))" --json > "$work/cdam448.json"
$cdam bench rp --repeats "$reps" --json > "$work/rp.json"
$cdam bench tam --batch 8 --json > "$work/tam.json"
if [ "$torch" = 1 ]; then
    echo "PyTorch suites ..." >&2
    python3 scripts/reference/bench_torch.py --model "$CDAM_HOME/models/dinov2-small-imgfocus" --reps "$reps" --json > "$work/torch.json"
fi
python3 - "$work" <<'PY'
import json, os, sys
work = sys.argv[1]
def load(name):
    path = os.path.join(work, name)
    return json.load(open(path)) if os.path.exists(path) else None
cdam = {}
for suite in ["sgemm", "forward", "cdam224", "cdam448", "rp", "tam"]:
    doc = load(suite + ".json")
    for f in doc["figures"]:
        cdam[f["name"]] = (f, doc["peakRSSMegabytes"])
torch = {r["measure"]: r for r in (load("torch.json") or {}).get("results", [])}
def c(name): return cdam.get(name, (None, None))
def t(name): return torch.get(name)
rows = [
    ("sgemm 2048^3 (GFLOP/s)", c("sgemm 2048^3"), "gflops", t("sgemm 2048^3") or next((r for k, r in torch.items() if k.startswith("sgemm 2048")), None)),
    ("sgemm fc1 shape 2056x1536x384 (GFLOP/s)", c("sgemm 2056x1536x384 (batch-8 fc1 shape)"), "gflops", next((r for k, r in torch.items() if "fc1" in k), None)),
    ("forward 224 batch 1 (ms/image)", c("forward 224x224 batch 1"), "ms", t("forward 224 batch 1")),
    ("forward 224 batch 8 (ms/image)", c("forward 224x224 batch 8"), "ms", t("forward 224 batch 8")),
    ("CDAM 224, 1 target vs notebook (ms)", c("cdam 224x224, 1 target"), "ms", t("CDAM 224 notebook (full autograd)")),
    ("CDAM 224, 1 target vs stopped (ms)", c("cdam 224x224, 1 target"), "ms", t("CDAM 224 stopped at last norm1")),
    ("CDAM 224, 32 targets (ms)", c("cdam 224x224, 32 targets"), "ms", None),
    ("CDAM 448, 1 target vs notebook (ms)", c("cdam 448x448, 1 target"), "ms", t("CDAM 448 notebook (full autograd)")),
    ("CDAM 448, 1 target vs stopped (ms)", c("cdam 448x448, 1 target"), "ms", t("CDAM 448 stopped at last norm1")),
    ("RP 224 (ms)", c("rp 224x224"), "ms", t("RP 224")),
    ("TAM 224 batch 8 (ms)", c("tam 224x224 batch 8"), "ms", t("TAM 224 batch 8")),
]
print(f"{'measure':44} {'cdam':>10} {'PyTorch':>10} {'ratio':>7}   {'cdam RSS':>8} {'torch RSS':>9}")
for label, (fig, rss), kind, ref in rows:
    if fig is None: continue
    ours = fig["gflops"] if kind == "gflops" else fig["milliseconds"]
    theirs = ref["median"] if ref else None
    if ref and ref.get("unit") == "s" and kind == "ms":
        theirs *= 1000
    ratio = "" if theirs is None else (f"{ours / theirs:6.2f}x" if kind == "gflops" else f"{theirs / ours:6.2f}x")
    trss = f"{ref['phase_peak_rss_mb']:6.0f} MB" if ref and "phase_peak_rss_mb" in ref else ""
    theirs_text = f"{theirs:10.1f}" if theirs else ""
    print(f"{label:44} {ours:10.1f} {theirs_text:>10} {ratio:>7}   {rss:5.0f} MB {trss:>9}")
fwd1 = c("forward 224x224 batch 1")[0]; fwd8 = c("forward 224x224 batch 8")[0]; k32 = c("cdam 224x224, 32 targets")[0]
sg = c("sgemm 2056x1536x384 (batch-8 fc1 shape)")[0]
if fwd8 and sg:
    print(f"\nforward batch 8 runs at {fwd8['gflops']:.1f} GFLOP/s = {fwd8['gflops'] / sg['gflops'] * 100:.0f}% of the sgemm rate at the fc1 shape")
if fwd1 and k32:
    print(f"32 CDAM maps add {k32['milliseconds'] - fwd1['milliseconds']:.1f} ms to a {fwd1['milliseconds']:.1f} ms forward pass "
          f"({(k32['milliseconds'] - fwd1['milliseconds']) / fwd1['milliseconds']:.2f} of a forward pass; the forward keeps the last block's cache)")
print("(ratio: how many times faster cdam is; for GFLOP/s, cdam's rate over PyTorch's)")
PY
rm -rf "$work"
