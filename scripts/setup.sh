#!/usr/bin/env bash
# Installs what cdam needs to build and run on Debian: the system libraries, and (with --model) the
# default model. Safe to run again: it installs only what is missing.
set -euo pipefail

need_apt=()
for pkg in libopenblas-dev libjpeg-dev libpng-dev libwebp-dev libsqlite3-dev opencv-doc; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need_apt+=("$pkg")
done
if ((${#need_apt[@]})); then
    echo "setup: installing ${need_apt[*]}" >&2
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
