#!/usr/bin/env bash
# Renders a report in headless Chromium (Debian's `chromium`) and checks it the way a reader would:
# a screenshot that is not blank, no broken image, no console error. Prints where the screenshot is.
#   bash scripts/check_report.sh out/report/index.html
set -euo pipefail
page="$(realpath "${1:?usage: check_report.sh REPORT/index.html}")"
command -v chromium >/dev/null || { echo "check_report: installing chromium" >&2; apt-get install -y -qq chromium imagemagick >/dev/null; }
shot="${page%.html}-screenshot.png"
flags=(--headless --no-sandbox --disable-gpu --hide-scrollbars --allow-file-access-from-files)
log="$(mktemp)"
chromium "${flags[@]}" --enable-logging=stderr --v=0 --virtual-time-budget=10000 --dump-dom "file://$page" >"$log.dom" 2>"$log" || true
chromium "${flags[@]}" --window-size=1200,3000 --screenshot="$shot" "file://$page" >/dev/null 2>&1 || true

status=0
broken="$(grep -o 'data-broken-images="[0-9]*"' "$log.dom" | grep -o '[0-9]*' || echo "?")"
if [ "$broken" != "0" ]; then echo "FAIL broken images: $broken"; status=1; else echo "ok   no broken image"; fi
if grep -E 'CONSOLE.*(Uncaught|Error|error)' "$log"; then echo "FAIL console errors (above)"; status=1; else echo "ok   no console error"; fi
if [ ! -s "$shot" ]; then echo "FAIL no screenshot"; status=1
else
    colours="$(convert "$shot" -format %k info: 2>/dev/null || echo 0)"
    if [ "${colours:-0}" -lt 50 ]; then echo "FAIL screenshot looks blank ($colours colours)"; status=1
    else echo "ok   screenshot has $colours colours: $shot"; fi
fi
rm -f "$log" "$log.dom"
exit $status
