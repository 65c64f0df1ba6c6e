#!/usr/bin/env bash
# Installs what building and testing ftplens needs on Debian 12: the apt packages in
# tests/setup-packages.txt and the Python packages in tests/requirements.txt. Idempotent; fast when
# everything is already there. Uses sudo when not root.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"

mapfile -t packages < <(grep -v '^\s*#' tests/setup-packages.txt | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    while fuser /var/lib/dpkg/lock-frontend >/dev/null 2>&1; do sleep 3; done
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

python3 -m pip install -q --disable-pip-version-check -r tests/requirements.txt 2>&1 \
    | grep -v "Running pip as the 'root' user" || true
