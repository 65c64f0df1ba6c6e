#!/usr/bin/env bash
# Installs Suricata 7 from Debian's bookworm-backports suite (bookworm itself has 6.0), for
# scripts/bench-vs-suricata.sh only: CI does not need it. Adds a deb822 sources entry for
# bookworm-backports on the mirror debian.sources already uses, only when none exists.
set -euo pipefail
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
if command -v suricata >/dev/null && suricata -V 2>/dev/null | grep -q "version 7"; then
    exit 0
fi
src=/etc/apt/sources.list.d/debian.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
    uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$src" 2>/dev/null)
    [ -n "$uri" ] || uri=http://deb.debian.org/debian
    $sudo tee /etc/apt/sources.list.d/bookworm-backports.sources >/dev/null <<SRC
Types: deb
URIs: $uri
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi
while fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; do sleep 3; done
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -t bookworm-backports suricata
suricata -V
