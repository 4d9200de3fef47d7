#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing cairn need.
# Runs apt-get through sudo when not root.
set -euo pipefail

packages=(
    build-essential autoconf automake libtool pkg-config
    libltdl-dev libevent-dev libjansson-dev libmariadb-dev check
    node-llhttp python3 curl media-types binutils prometheus
    libcrypt-dev libssl-dev openssl apache2-utils whois
    mariadb-server mariadb-client python3-jsonschema valgrind
    zlib1g-dev libbrotli-dev libzstd-dev brotli zstd python3-brotli
    python3-zstd chromium python3-websocket
)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
        || missing+=("$p")
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

sudo=
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
fi

export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
