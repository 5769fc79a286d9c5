#!/usr/bin/env bash
# Builds the decoder fuzz target with libFuzzer + AddressSanitizer and runs it for a bounded
# time from a seed corpus of small real files (the committed test fixtures, plus small
# re-encodings of a few photos when /work/shared/images is there).
#   fuzz/run.sh [SECONDS (default 600)] [RUNS (default 1000000)]
# Crashing inputs land in fuzz/artifacts/; the grown corpus in fuzz/corpus/ (not committed).
set -euo pipefail
SECS=${1:-600}
RUNS=${2:-1000000}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT=fuzz/build
mkdir -p "$OUT/module" fuzz/seeds fuzz/corpus fuzz/artifacts
cat > "$OUT/module/module.modulemap" <<MAP
module CImageCodecs {
    header "$ROOT/Sources/CImageCodecs/include/CImageCodecs.h"
    export *
}
MAP
clang -O1 -g -fsanitize=fuzzer-no-link,address -I Sources/CImageCodecs/include \
    -c Sources/CImageCodecs/codecs.c -o "$OUT/codecs.o"
swiftc -O -g -sanitize=fuzzer,address -parse-as-library -module-name DecodeFuzz \
    -I "$OUT/module" fuzz/DecodeFuzz.swift Sources/Imaging/*.swift "$OUT/codecs.o" \
    -ljpeg -lpng16 -lwebp -lwebpdemux -o "$OUT/decode-fuzz"

for f in Tests/ImagingTests/Fixtures/valid/* Tests/ImagingTests/Fixtures/malformed/*; do
    case "$f" in *.rgb|*.tsv) continue ;; esac
    cp -n "$f" fuzz/seeds/ 2>/dev/null || true
done
if [ -d /work/shared/images/paper ] && command -v convert > /dev/null; then
    for img in /work/shared/images/paper/balls.jpg /work/shared/images/paper/violin2.jpg \
               /work/shared/images/multi-object/catdog.png; do
        [ -f "$img" ] || continue
        b=$(basename "$img")
        [ -f "fuzz/seeds/small-$b.jpg" ] || convert "$img" -resize 48x48 -quality 85 "fuzz/seeds/small-$b.jpg"
        [ -f "fuzz/seeds/small-$b.png" ] || convert "$img" -resize 32x32 "fuzz/seeds/small-$b.png"
        [ -f "fuzz/seeds/small-$b.webp" ] || convert "$img" -resize 40x40 "fuzz/seeds/small-$b.webp"
        [ -f "fuzz/seeds/small-prog-$b.jpg" ] || convert "$img" -resize 40x40 -interlace JPEG "fuzz/seeds/small-prog-$b.jpg"
    done
fi

"$OUT/decode-fuzz" -max_total_time="$SECS" -runs="$RUNS" -max_len=65536 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=fuzz/artifacts/ \
    fuzz/corpus fuzz/seeds
