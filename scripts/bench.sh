#!/usr/bin/env bash
# cdam's benchmarks beside PyTorch's, in the same run on the same converted weights (2 threads, fp32).
# Each suite runs in its own process so its peak RSS is its own. Needs torch and transformers for the
# PyTorch side (pip install torch transformers); --cdam-only skips it.
#
# Shared cloud cores change speed by up to a third from one minute to the next, so the two sides take
# turns: each suite runs for cdam and then at once for PyTorch, and the whole list runs --rounds times.
# Each side's figure is its best round's median.
#   bash scripts/bench.sh [--cdam-only] [--reps N] [--rounds R]
set -euo pipefail
cd "$(dirname "$0")/.."
reps=5; torch=1; rounds=2
while [ $# -gt 0 ]; do
    case "$1" in
        --cdam-only) torch=0 ;;
        --reps) reps="$2"; shift ;;
        --rounds) rounds="$2"; shift ;;
        *) echo "usage: bench.sh [--cdam-only] [--reps N] [--rounds R]" >&2; exit 2 ;;
    esac
    shift
done
export CDAM_HOME="${CDAM_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cdam}"
swift build -c release 2>&1 | tail -n 1 >&2
cdam=.build/release/cdam
$cdam model fetch >&2
model="$CDAM_HOME/models/dinov2-small-imgfocus"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# suite name, cdam arguments, PyTorch phase
suites=(
    "sgemm|sgemm --repeats $reps|sgemm"
    "forward|forward --repeats $reps|forward"
    "efficiency|efficiency --repeats $(( reps * 2 ))|"
    "cdam224|cdam --size 224 --repeats $reps|cdam224"
    "cdam448|cdam --size 448 --repeats $(( (reps + 1) / 2 ))|cdam448"
    "rp|rp --repeats $reps|rp224"
    "tam|tam --batch 8|tam224"
)
for round in $(seq "$rounds"); do
    for entry in "${suites[@]}"; do
        IFS='|' read -r name args phase <<< "$entry"
        echo "round $round: $name ..." >&2
        # shellcheck disable=SC2086
        $cdam bench $args --json > "$work/cdam-$name-$round.json"
        if [ "$torch" = 1 ] && [ -n "$phase" ]; then
            python3 scripts/reference/bench_torch.py --model "$model" --reps "$reps" --phases "$phase" --json \
                > "$work/torch-$name-$round.json" 2>/dev/null
        fi
    done
done
python3 - "$work" <<'PY'
import json, os, sys
import glob
work = sys.argv[1]
# Each side's best round per measure: the lowest time, or the highest GFLOP/s.
def better(new, old, key, higher):
    return old is None or (new[key] > old[key] if higher else new[key] < old[key])
cdam, torch = {}, {}
for path in sorted(glob.glob(os.path.join(work, "cdam-*.json"))):
    doc = json.load(open(path))
    for f in doc["figures"]:
        old = cdam.get(f["name"], (None, None))[0]
        if better(f, old, "gflops" if f["name"].startswith("sgemm") else "milliseconds", f["name"].startswith("sgemm")):
            cdam[f["name"]] = (f, doc["peakRSSMegabytes"])
for path in sorted(glob.glob(os.path.join(work, "torch-*.json"))):
    try:
        results = json.load(open(path)).get("results", [])
    except ValueError:
        continue
    for r in results:
        if better(r, torch.get(r["measure"]), "median", r["unit"] == "GFLOP/s"):
            torch[r["measure"]] = r
def c(name): return cdam.get(name, (None, None))
def t(name): return torch.get(name)
rows = [
    ("sgemm 2048^3 (GFLOP/s)", c("sgemm 2048^3"), "gflops", t("sgemm 2048^3") or next((r for k, r in torch.items() if k.startswith("sgemm 2048")), None)),
    ("sgemm fc1 shape 2056x1536x384 (GFLOP/s)", c("sgemm 2056x1536x384 (batch-8 fc1 shape)"), "gflops", next((r for k, r in torch.items() if "fc1" in k), None)),
    ("linear layer kernel, fc1 shape (GFLOP/s)", c("linear 2056x1536x384 (fc1 shape, as the forward pass runs it)"), "gflops", next((r for k, r in torch.items() if "fc1" in k), None)),
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
fwd8 = c("forward 224x224 batch 8")[0]
big = c("sgemm 2048^3")[0]; kernel = c("linear 2056x1536x384 (fc1 shape, as the forward pass runs it)")[0]
if fwd8 and big and kernel:
    print(f"\nforward batch 8 runs at {fwd8['gflops']:.1f} GFLOP/s (12.25 GFLOP an image): {fwd8['gflops'] / kernel['gflops'] * 100:.0f}% "
          f"of the rate of the product kernel it runs on (fc1 shape), {fwd8['gflops'] / big['gflops'] * 100:.0f}% of OpenBLAS at 2048^3 "
          f"(each its best round's median, minutes apart)")
# The forward pass and OpenBLAS 2048^3 in alternation, in one process: each pair sees the same host speed.
pairs = []
for path in sorted(glob.glob(os.path.join(work, "cdam-efficiency-*.json"))):
    for f in json.load(open(path))["figures"]:
        if f.get("ratio") is not None:
            pairs.append(f)
if pairs:
    rounds = ", ".join(f"{f['ratio'] * 100:.0f}%" for f in pairs)
    print(f"forward batch 8 / OpenBLAS sgemm 2048^3 in alternation: {rounds} (one figure a round, each the median of its pairs; "
          f"forward {pairs[0]['gflops']:.0f} GFLOP/s in round 1)")
# What 32 maps add to the forward pass: the backward for all 32 timed inside the same passes, beside the
# forward pass keeping the last block from the same process; the median over the rounds.
extra = []
for path in sorted(glob.glob(os.path.join(work, "cdam-cdam224-*.json"))):
    figures = {f["name"]: f["milliseconds"] for f in json.load(open(path))["figures"]}
    if "cdam 224x224, forward only" in figures and "cdam 224x224, 32 targets, the maps alone" in figures:
        extra.append((figures["cdam 224x224, 32 targets, the maps alone"], figures["cdam 224x224, forward only"]))
if extra:
    added, base = sorted(extra)[len(extra) // 2]
    print(f"32 CDAM maps add {added:.1f} ms to a {base:.1f} ms forward pass ({added / base:.2f} of a forward pass "
          f"keeping the last block; median over {len(extra)} rounds)")
print("(ratio: how many times faster cdam is; for GFLOP/s, cdam's rate over PyTorch's. Each side: its best round's median)")
PY
