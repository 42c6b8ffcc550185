#!/usr/bin/env bash
# Copies the official socket.io-client browser bundle (ES module build) into
# the console's embedded files. The version is the one pinned in
# test/e2e/package-lock.json; run this after changing it and commit the
# result. The console loads nothing from a CDN.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd test/e2e && npm ci --no-audit --no-fund --loglevel=error)
src=test/e2e/node_modules/socket.io-client/dist/socket.io.esm.min.js
dst=pkg/console/static/vendor/socket.io.esm.min.js
mkdir -p "$(dirname "$dst")"
cp "$src" "$dst"
cp test/e2e/node_modules/socket.io-client/LICENSE "$(dirname "$dst")/socket.io-client.LICENSE"
head -c 200 "$dst" | grep -o 'Socket.IO v[0-9.]*'
