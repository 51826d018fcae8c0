#!/usr/bin/env bash
# Debian tools the tests need: chromium and a CJK font (browser tests), strace (whole-process egress test).
# `make test` runs this every time, so a machine set up with plain ./setup.sh still runs every test (no silent skip).
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && dpkg -s fonts-wqy-microhei >/dev/null 2>&1 \
    && command -v strace >/dev/null 2>&1; then
  exit 0
fi
echo "==> Debian test tools: chromium, fonts-wqy-microhei, strace"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium fonts-wqy-microhei strace >/dev/null
