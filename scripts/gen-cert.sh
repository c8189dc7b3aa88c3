#!/usr/bin/env bash
# A self-signed TLS certificate for nginx: scripts/gen-cert.sh <dir> [host names or IPs...]
# Writes <dir>/tls.crt and <dir>/tls.key (valid 825 days) for localhost, 127.0.0.1, this
# machine's host name and any extra names or addresses given (for a Jetson: its .local name and
# its LAN address, so a phone on the same network can reach it). Never committed: data/ is ignored.
set -euo pipefail
dir=${1:?usage: scripts/gen-cert.sh <dir> [host names or IPs...]}
shift
mkdir -p "$dir"

host=$(hostname 2>/dev/null || echo localhost)
san="DNS:localhost,IP:127.0.0.1,IP:::1,DNS:${host}"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+=",IP:${name}"; else san+=",DNS:${name}"; fi
done

umask 077
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
  -keyout "$dir/tls.key" -out "$dir/tls.crt" \
  -subj "/CN=agentic-voice ${host}" \
  -addext "subjectAltName=${san}" \
  -addext "basicConstraints=critical,CA:TRUE" \
  -addext "keyUsage=critical,digitalSignature,keyCertSign" \
  -addext "extendedKeyUsage=serverAuth" 2>/dev/null
chmod 644 "$dir/tls.crt"
echo "[cert] $dir/tls.crt for ${san}"
