#!/usr/bin/env bash
# Provision what the test suites need from Debian's packages: PostgreSQL server binaries,
# Chromium (driven by Playwright for the tests of the HTML reports and, later, the web pages) and
# pango (WeasyPrint lays out the PDF reports with it; chromium usually brings it along).
# Idempotent and silent when everything is already there. The tests start their own
# throw-away cluster (tests/fixtures/postgres.py); no system-wide service is started here.
set -euo pipefail

have_initdb() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}

have_chromium() {
    command -v chromium >/dev/null 2>&1
}

have_pango() {
    # grep reads all of ldconfig's output (no -q): pipefail would see an early exit as SIGPIPE
    local libs
    libs=$(ldconfig -p 2>/dev/null || true)
    grep 'libpango-1.0.so.0' <<<"$libs" >/dev/null && grep 'libpangoft2-1.0.so.0' <<<"$libs" >/dev/null
}

if have_initdb && have_chromium && have_pango; then
    exit 0
fi

if [[ $(id -u) -eq 0 ]]; then
    SUDO=()
elif command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
else
    echo "provision-test-deps: need root or sudo to install postgresql" >&2
    exit 1
fi

echo "provision-test-deps: installing Debian's postgresql (server binaries), chromium and pango for the tests"

# Keep the package's postinst from starting the default cluster as a service: a
# policy-rc.d that returns 101 ("action forbidden"), unless one is already in place.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=0
cleanup() {
    if [[ $CREATED_POLICY -eq 1 ]]; then
        "${SUDO[@]}" rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee "$POLICY" >/dev/null
    "${SUDO[@]}" chmod 755 "$POLICY"
    CREATED_POLICY=1
fi

"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends postgresql chromium libpango-1.0-0 libpangoft2-1.0-0

if ! have_initdb; then
    echo "provision-test-deps: postgresql installed but no /usr/lib/postgresql/*/bin/initdb" >&2
    exit 1
fi
if ! have_chromium; then
    echo "provision-test-deps: chromium installed but not on PATH" >&2
    exit 1
fi
if ! have_pango; then
    echo "provision-test-deps: pango installed but libpango-1.0.so.0 is not known to ldconfig" >&2
    exit 1
fi
