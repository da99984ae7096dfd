#!/usr/bin/env bash
# Make sure the browser tests (tests/e2e/test_ui_browser.py) have a browser: Debian's Chromium at
# /usr/bin/chromium, driven by Playwright for Python (pinned in pyproject.toml's test extras).
# Playwright's own browser downloads are never used (`playwright install` needs the internet;
# the service and its CI run on closed networks): only Debian's package.
#
#   bash tests/browser_setup.sh       # run by `make test` before pytest
#
# When /usr/bin/chromium is missing and we are root, installs Debian's `chromium`; also a small
# CJK font (fonts-wqy-microhei) when no Chinese font is installed, so the screenshots in
# artifacts/ show Chinese text rather than boxes (the tests pass either way). Not root and no
# Chromium: says how to install it and exits 1 (`make test` requires the browser tests to run).
set -euo pipefail

say() { echo "browser_setup: $*" >&2; }

CHROMIUM=/usr/bin/chromium
packages=()
if [ ! -x "$CHROMIUM" ]; then
    packages+=(chromium)
fi
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    packages+=(fonts-wqy-microhei)
fi

if [ "${#packages[@]}" -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ]; then
        if [ ! -x "$CHROMIUM" ]; then
            say "$CHROMIUM not found and not root, cannot install it."
            say "Install Debian's package: sudo apt-get install chromium fonts-wqy-microhei"
            exit 1
        fi
        say "no Chinese font installed (screenshots will show boxes): sudo apt-get install fonts-wqy-microhei"
    else
        say "installing ${packages[*]} from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${packages[@]}" >/dev/null
    fi
fi
say "$("$CHROMIUM" --version 2>/dev/null | head -1)"
