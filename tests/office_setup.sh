#!/usr/bin/env bash
# Make sure the workbook tests (tests/engine/tooling/test_workbook.py) can re-save a workbook with
# LibreOffice, headless, as a policy owner's WPS or LibreOffice would: Debian's
# libreoffice-calc-nogui (the spreadsheet without a desktop) provides /usr/bin/soffice.
#
#   bash tests/office_setup.sh       # run by `make test` before pytest
#
# When soffice is missing and we are root, installs the package; not root and no soffice: says how
# to install it and exits 1 (`make test` requires the LibreOffice test to run, not skip).
set -euo pipefail

say() { echo "office_setup: $*" >&2; }

if ! command -v soffice >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        say "soffice not found and not root, cannot install it."
        say "Install Debian's package: sudo apt-get install libreoffice-calc-nogui"
        exit 1
    fi
    say "installing libreoffice-calc-nogui from Debian's packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends libreoffice-calc-nogui >/dev/null
fi
say "$(soffice --version 2>/dev/null | head -1)"
