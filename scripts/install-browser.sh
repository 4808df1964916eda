#!/usr/bin/env bash
# Install Debian's headless Chromium and its WebDriver for the browser test (tests/serve/test_browser.py).
# Idempotent: does nothing when /usr/bin/chromium and /usr/bin/chromedriver exist. Needs root (CI runs as root)
# or passwordless sudo. Nothing is downloaded outside the Debian package mirrors (no browser download by a driver).
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}

if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then
  echo "install-browser: $("$CHROMIUM" --version 2>/dev/null || echo chromium) and chromedriver already installed"
  exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
  SUDO=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  SUDO="sudo -n"
else
  echo "install-browser: need root (or passwordless sudo) to apt-get install chromium chromium-driver" >&2
  exit 1
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-browser: apt-get not found; install Chromium and chromedriver with your system's package manager" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver fonts-dejavu-core
"$CHROMIUM" --version
"$CHROMEDRIVER" --version
