#!/usr/bin/env bash
# Installs what cairn needs on Debian 12, builds it, and serves the demo
# site (demo/htdocs, with the shipped conf.d) on http://127.0.0.1:8080/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
[ -x configure ] || ./autogen.sh
[ -f Makefile ] || ./configure
make -j"$(nproc)"

echo "serving http://127.0.0.1:8080/ (Ctrl-C stops)"
exec core/cairnd -f demo/cairn.conf
