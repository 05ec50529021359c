#!/usr/bin/env bash
# Installs the Debian packages listed in system-packages.txt that are missing.
# Used by `make test` / `make demo` so a fresh machine needs no manual step.
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
while read -r pkg _; do
  [[ -z "$pkg" || "$pkg" == \#* ]] && continue
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done < system-packages.txt
[[ ${#missing[@]} -eq 0 ]] && exit 0
echo "Installing Debian packages: ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
  echo "error: need root to install: apt-get install ${missing[*]}" >&2
  exit 1
fi
# Same install as the one the tests were developed against (recommends too).
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
