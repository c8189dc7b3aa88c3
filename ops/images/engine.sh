#!/usr/bin/env bash
# A Docker engine for the container tests: the one that answers (DOCKER_HOST, or the default
# socket) when there is one; else Debian's engine, installed and started here, and said so.
#   ops/images/engine.sh [--arm64]    (--arm64: also qemu, so arm64 images build and run)
# No registry is needed: images come from ops/images/standins.py and the project's Dockerfiles.
set -euo pipefail
cd "$(dirname "$0")/../.."
LOG=data/logs/dockerd.log
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
missing_packages() {
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}
apt_install() {
  local missing
  missing=$(missing_packages "$@")
  [ -z "$missing" ] && return 0
  echo "[engine] apt: installing $(echo $missing)"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    $missing >/dev/null
}

# debootstrap makes the stand-in base images (ops/images/standins.py).
apt_install debootstrap

if docker info >/dev/null 2>&1; then
  echo "[engine] using the Docker engine that answers: $(docker info --format \
    '{{.ServerVersion}} at {{.Name}}') (${DOCKER_HOST:-unix:///var/run/docker.sock})"
else
  echo "[engine] no Docker engine answers: starting Debian's (docker.io) on this machine"
  apt_install docker.io containerd iptables
  mkdir -p "$(dirname "$LOG")"
  # No init system runs it here: started in the background, in a session of its own, so it
  # outlives this command (later runs find it answering).
  as_root setsid dockerd --host unix:///var/run/docker.sock >>"$LOG" 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1  # polling the daemon's socket until it answers, for at most a minute
  done
  if ! docker info >/dev/null 2>&1; then
    echo "[engine] error: dockerd did not answer within 60 s; its last lines ($LOG):" >&2
    tail -n 15 "$LOG" >&2
    exit 1
  fi
  echo "[engine] started dockerd $(docker info --format '{{.ServerVersion}}') (log: $LOG)"
fi

if [ "${1:-}" = "--arm64" ]; then
  apt_install qemu-user-static binfmt-support
  if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
    as_root mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
  fi
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || as_root update-binfmts --enable qemu-aarch64
  echo "[engine] arm64 binaries run under qemu ($(head -n 1 /proc/sys/fs/binfmt_misc/qemu-aarch64))"
fi
