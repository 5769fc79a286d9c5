#!/bin/sh
# Class CDAM demonstration (issue 13): trains a linear head on class groups of the ImageNet samples
# in ../shared/images (not a test: it needs those photos), prints held-out accuracy, and explains the
# multi-object photos by class (dog vs cat on catdog).
#
#   scripts/heads_demo.sh [IMAGES_DIR] [OUT_DIR]
#
# IMAGES_DIR holds imagenet-samples/ (one photo per ImageNet class, named nXXXXXXXX_label.JPEG) and
# multi-object/. Groups follow ImageNet's class ranges (class order is the WordNet ids' order):
# dogs n02085620..n02113978, cats n02123045..n02130308 (domestic and big cats), birds (three ranges),
# fish, insects, vehicles and instruments (named classes). Each group is split 70/30 into train/ and
# heldout/ by file name; the head is trained on train/ and judged on heldout/ it never saw.
# Uses CDAM_HOME if set (a throwaway home is a good idea: the demo stores ~350 embeddings).
set -eu
images=${1:-$(cd "$(dirname "$0")/../.." && pwd)/shared/images}
out=${2:-${TMPDIR:-/tmp}/cdam-heads-demo}
cdam=${CDAM:-$(cd "$(dirname "$0")/.." && pwd)/.build/release/cdam}
[ -x "$cdam" ] || cdam=$(cd "$(dirname "$0")/.." && pwd)/.build/debug/cdam
[ -d "$images/imagenet-samples" ] || { echo "$images/imagenet-samples: no such folder; give the shared images folder as the first argument" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"

python3 - "$images/imagenet-samples" "$out" <<'PY'
import os, shutil, sys
src, out = sys.argv[1], sys.argv[2]
def between(lo, hi): return lambda w, name: lo <= w <= hi
def named(*words): return lambda w, name: any(x in name for x in words)
groups = {
    "dog": between("n02085620", "n02113978"),
    "cat": between("n02123045", "n02130308"),
    "bird": lambda w, n: between("n01514668", "n01622779")(w, n) or between("n01795545", "n01860187")(w, n) or between("n02002724", "n02058221")(w, n),
    "fish": lambda w, n: between("n01440764", "n01496331")(w, n) or between("n02514041", "n02655020")(w, n),
    "insect": between("n02165105", "n02281787"),
    "vehicle": named("ambulance", "beach_wagon", "cab", "convertible", "jeep", "limousine", "minivan", "Model_T", "racer",
                     "sports_car", "garbage_truck", "moving_van", "pickup", "tow_truck", "trailer_truck", "fire_engine",
                     "police_van", "minibus", "school_bus", "trolleybus", "recreational_vehicle", "go-kart", "moped", "motor_scooter",
                     "tractor", "forklift", "snowplow", "half_track", "tank", "streetcar", "passenger_car", "mountain_bike", "tricycle"),
    "instrument": named("accordion", "acoustic_guitar", "banjo", "cello", "cornet", "drum", "electric_guitar", "flute",
                        "French_horn", "gong", "grand_piano", "harmonica", "harp", "marimba", "oboe", "ocarina", "organ",
                        "panpipe", "sax", "steel_drum", "trombone", "upright", "violin", "maraca", "chime", "bassoon"),
}
counts = {}
for f in sorted(os.listdir(src)):
    wnid, name = f.split("_", 1)
    for g, test in groups.items():
        if test(wnid, name):
            counts.setdefault(g, []).append(f)
            break
for g, files in counts.items():
    for i, f in enumerate(files):
        split = "heldout" if i % 10 in (2, 5, 8) else "train"
        d = os.path.join(out, split, g)
        os.makedirs(d, exist_ok=True)
        shutil.copy(os.path.join(src, f), os.path.join(d, f))
    print(f"{g:11s} {len(files):3d} images ({sum(1 for i in range(len(files)) if i % 10 not in (2, 5, 8))} train)")
PY

echo
echo "== cdam head train demo --labels $out/train"
"$cdam" head train demo --labels "$out/train" --replace
echo
echo "== cdam head eval demo --labels $out/heldout   (the stored head on images it never saw)"
"$cdam" head eval demo --labels "$out/heldout"
echo
echo "== class CDAM on the multi-object photos"
for photo in catdog.png dogcat2.png dogbird.png; do
    "$cdam" query "$images/multi-object/$photo" --head demo --class dog --class cat --class bird --class top1 --out "$out/maps"
done
echo
echo "panels (image, then the CDAM map of each class): $out/maps/*-panel.png"
