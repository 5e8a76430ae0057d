#!/usr/bin/env bash
# The browser libraries of the web pages, from the npm registry through web/package-lock.json:
# `npm ci` into web/node_modules, then the few files the pages load are copied into
# src/relayml/web/static/vendor/ (git-ignored, shipped in the wheel as package data). Nothing is
# committed, nothing is loaded from the internet when a page is viewed. Run by `make install`;
# silent when the vendor folder is already built from the current lock file.
set -euo pipefail
cd "$(dirname "$0")/.."

VENDOR=src/relayml/web/static/vendor
STAMP=$VENDOR/.lock-sha256
want=$(sha256sum web/package-lock.json | cut -d' ' -f1)
if [[ -f $STAMP && $(cat "$STAMP") == "$want" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    echo "build-web-assets: npm is needed to fetch the web pages' libraries (Debian: apt-get install npm)" >&2
    exit 1
fi
echo "build-web-assets: fetching the web pages' libraries from the npm registry (web/package-lock.json)"
npm ci --prefix web --ignore-scripts --no-audit --no-fund --loglevel=error
rm -rf "$VENDOR"
mkdir -p "$VENDOR"
M=web/node_modules
cp "$M/htmx.org/dist/htmx.min.js" "$VENDOR/htmx.min.js"
cp "$M/uplot/dist/uPlot.iife.min.js" "$VENDOR/uplot.min.js"
cp "$M/uplot/dist/uPlot.min.css" "$VENDOR/uplot.min.css"
cp "$M/@dagrejs/dagre/dist/dagre.min.js" "$VENDOR/dagre.min.js"
# Accessibility checks of the browser tests (a dev dependency, not loaded by any page).
cp "$M/axe-core/axe.min.js" "$VENDOR/axe.min.js"
for pkg in htmx.org uplot @dagrejs/dagre @dagrejs/graphlib axe-core; do
    name=${pkg//\//-}
    cp "$M/$pkg/LICENSE"* "$VENDOR/LICENSE.$name" 2>/dev/null || true
done
echo "$want" >"$STAMP"
