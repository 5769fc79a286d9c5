#!/usr/bin/env bash
# Do the printed figures tell the truth? The protocol of issue 12 on the ImageNet samples of ../shared:
# a concept is defined from 8 example photos of its classes; the other photos of those classes are
# held-out positives the concept never saw. Each kind is fitted against
#   collection  - the whole collection (what a user who indexed everything does: it holds the held-out positives),
#   guarded     - the same, with --exclude-similar K (K = the count define's warning gives: collection
#                 images at least as like the concept as a typical example),
#   clean       - a background without the concept's classes,
# and judged twice: leave-one-out AUC (what `concept define` prints) and, with `concept evaluate
# --positives`, AUC and precision@10 of the held-out positives against the collection's other images.
#
# Usage: bash scripts/honest_figures.sh [IMAGES_DIR]   (default ../shared/images/imagenet-samples)
# Uses CDAM_BINARY or .build/release/cdam or .build/debug/cdam; a temporary database; the installed model.
set -euo pipefail
cd "$(dirname "$0")/.."
images="$(cd "${1:-../shared/images/imagenet-samples}" && pwd)"
cdam="${CDAM_BINARY:-}"
[ -z "$cdam" ] && for b in .build/release/cdam .build/debug/cdam; do [ -x "$b" ] && cdam="$b" && break; done
[ -n "$cdam" ] || { echo "build cdam first (swift build -c release)" >&2; exit 1; }
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
db="$work/cdam.sqlite"
export CDAM_PROGRESS=0

# Classes by WordNet id ranges: dogs, and birds.
in_ranges() { # FILE RANGES...
    local id="${1%%_*}"; shift
    for r in "$@"; do [[ "$id" > "${r%-*}" || "$id" == "${r%-*}" ]] && [[ "$id" < "${r#*-}" || "$id" == "${r#*-}" ]] && return 0; done
    return 1
}
declare -A RANGES=(
    [dog]="n02085620-n02113978"
    [bird]="n01514668-n01582220 n01592084-n01601694 n01608432-n01623615 n01795545-n01833805 n01843065-n01860187 n02002556-n02058221"
)
mkdir -p "$work/all"
for f in "$images"/*; do ln "$f" "$work/all/" 2>/dev/null || cp "$f" "$work/all/"; done
echo "indexing $(ls "$work/all" | wc -l) photos from $images" >&2
"$cdam" index "$work/all" --collection imagenet --db "$db" >/dev/null

for concept in dog bird; do
    mkdir -p "$work/$concept/examples" "$work/$concept/held" "$work/$concept/clean"
    members=()
    for f in "$work"/all/*; do
        if in_ranges "$(basename "$f")" ${RANGES[$concept]}; then members+=("$f"); else ln "$f" "$work/$concept/clean/"; fi
    done
    # 8 examples spread over the classes (every step-th photo in name order); the rest are held out.
    step=$(( ${#members[@]} / 8 ))
    for i in "${!members[@]}"; do
        if [ $((i % step)) -eq 0 ] && [ $((i / step)) -lt 8 ]; then ln "${members[$i]}" "$work/$concept/examples/"
        else ln "${members[$i]}" "$work/$concept/held/"; fi
    done
    echo "$concept: ${#members[@]} photos, 8 examples, $(ls "$work/$concept/held" | wc -l) held out" >&2
    "$cdam" index "$work/$concept/clean" --collection "no-$concept" --db "$db" >/dev/null
done

printf "%-6s %-9s %-11s %8s %9s %9s %8s  %s\n" concept kind background "LOO AUC" "held AUC" "held P@10" chance "verdict"
for concept in dog bird; do
    for kind in mean centred probe whitened; do
        for bg in collection guarded clean; do
            name="$concept-$kind-$bg"
            args=(concept define "$name" --examples "$work/$concept/examples" --kind "$kind" --random-concepts 20 --db "$db" --json)
            case $bg in
                collection) args+=(--background imagenet) ;;
                guarded)
                    # K: how many collection images define says look at least as much like the concept as a typical example.
                    k="$("$cdam" concept define "$concept-probe-k" --examples "$work/$concept/examples" --kind centred \
                          --background imagenet --random-concepts 0 --replace --db "$db" --json \
                        | python3 -c 'import json,sys,re; w=" ".join(json.load(sys.stdin).get("warnings") or []); m=re.search(r"(\d+) images? of collection", w); print(m.group(1) if m else 0)')"
                    args+=(--background imagenet --exclude-similar "$k") ;;
                clean) args+=(--background "no-$concept") ;;
            esac
            "$cdam" "${args[@]}" > "$work/define.json"
            "$cdam" concept evaluate "$name" --background imagenet --positives "$work/$concept/held" --random-concepts 0 \
                --db "$db" --json > "$work/evaluate.json"
            python3 - "$concept" "$kind" "$bg" "$work/define.json" "$work/evaluate.json" "${k:-}" <<'EOF'
import json, sys
concept, kind, bg, define, evaluate, k = sys.argv[1:7]
d = json.load(open(define)); e = json.load(open(evaluate))
q = d.get("quality") or {}; h = e.get("heldOut") or {}
label = bg + (f" K={k}" if bg == "guarded" else "")
verdict = (d.get("verdict") or {}).get("level", "-")
print(f"{concept:<6} {kind:<9} {label:<11} {q.get('auc', float('nan')):8.3f} {h.get('auc', float('nan')):9.3f} "
      f"{h.get('precisionAt10', float('nan')):9.2f} {h.get('chancePrecision', float('nan')):8.3f}  {verdict}")
EOF
        done
    done
done
