#!/usr/bin/env bash
# Installs everything the stack and its tests need on a fresh Debian 12 machine:
# system packages from apt (only those missing), uv from PyPI, and the locked Python workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

# redis-server: the broker; espeak-ng, sox: test speech; nginx: TLS front (make run and tests);
# chromium: the browser end-to-end tests; prometheus: promtool checks and a real scraper in tests;
# iproute2: the bandwidth-capped link of the network tests (ip netns, tc).
APT_PACKAGES=(redis-server espeak-ng sox nginx chromium prometheus openssl iproute2)

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] apt: installing ${missing[*]}"
  as_root apt-get update -qq
  # Services are run by the project itself, never by the system's init scripts: a policy-rc.d
  # that refuses keeps nginx and prometheus from starting as system daemons on install.
  policy=/usr/sbin/policy-rc.d
  as_root sh -c "[ -e $policy ] || { printf '#!/bin/sh\\nexit 101\\n' > $policy; chmod +x $policy; touch $policy.agentic-voice; }"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  as_root sh -c "[ ! -e $policy.agentic-voice ] || rm -f $policy $policy.agentic-voice"
fi

UV_VERSION=0.13.9
if ! python3 -m uv --version 2>/dev/null | grep -q "$UV_VERSION"; then
  echo "[setup] pip: installing uv $UV_VERSION"
  python3 -m pip install -q "uv==$UV_VERSION"
fi

export UV_PYTHON_DOWNLOADS=never
python3 -m uv sync --frozen --all-packages --all-extras --python 3.11 -q
# The web client's locked npm packages, reinstalled only when the lockfile changed.
if [ -f web/package-lock.json ] && { [ ! -f web/node_modules/.package-lock.json ] ||
    [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; }; then
  echo "[setup] npm: installing the web client's packages"
  (cd web && npm ci --no-audit --no-fund --loglevel=error)
fi
echo "[setup] ready: $(.venv/bin/python --version), workspace synced"
