#!/usr/bin/env bash
# libFuzzer + AddressSanitizer runs over what cdam parses from files a user may have been handed.
#   fuzz/run.sh decode  [SECONDS (default 600)] [RUNS (default 1000000)]   the image decoders
#   fuzz/run.sh parsers [SECONDS (default 600)] [PARSERS (default "safetensors concept-import")]
#       the model and concept parsers (Sources/FuzzTargets), SECONDS each; PARSERS from
#       safetensors, concept-import, concept-file, model-config.
# decode builds the decoders with swiftc; parsers builds the cdam-fuzz product with SwiftPM in release mode,
# so the code is compiled with the flags cdam ships with (-Ounchecked where Package.swift says so), plus the
# sanitizers. Crashing inputs land in fuzz/artifacts/; grown corpora in fuzz/corpus*/ (not committed).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
MODE=decode
case "${1:-}" in decode|parsers) MODE=$1; shift ;; esac

if [ "$MODE" = parsers ]; then
    SECS=${1:-600}
    PARSERS=${2:-safetensors concept-import}
    mkdir -p fuzz/artifacts
    swift build -c release --product cdam-fuzz --scratch-path .build-fuzz --sanitize address \
        -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xcc -fsanitize=fuzzer-no-link 2>&1 | tail -n 2
    for parser in $PARSERS; do
        echo "=== $parser: $SECS s"
        mkdir -p "fuzz/corpus-$parser"
        CDAM_FUZZ_PARSER=$parser CDAM_FUZZ_SEEDS="fuzz/seeds-$parser" .build-fuzz/release/cdam-fuzz \
            -runs=0 "fuzz/corpus-$parser" > /dev/null 2>&1 || true   # writes the seeds
        CDAM_FUZZ_PARSER=$parser .build-fuzz/release/cdam-fuzz -max_total_time="$SECS" -max_len=65536 -timeout=10 \
            -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$parser-" \
            "fuzz/corpus-$parser" "fuzz/seeds-$parser"
    done
    exit 0
fi

SECS=${1:-600}
RUNS=${2:-1000000}
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
