#!/usr/bin/env bash
# Issue 14's table with cdam itself: index the ImageNet samples at blocks 12, 11, 10 and 8 (cdam index
# --layer L, into a throwaway database), then the retrieval average precision of concepts defined at each
# block in four kinds (scripts/layers_table.py). Not a test: it needs ../shared/images.
#   bash scripts/layers_table.sh [IMAGES_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
images="${1:-../shared/images/imagenet-samples}"
swift build -c release --product cdam 2>&1 | tail -n 1 >&2
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
for block in 12 11 10 8; do
    CDAM_PROGRESS=0 .build/release/cdam index "$images" --collection layers-table --layer "$block" --db "$work/cdam.sqlite" >&2
done
python3 scripts/layers_table.py --db "$work/cdam.sqlite"
