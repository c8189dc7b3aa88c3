#!/usr/bin/env bash
# The Jetson overlay's images for linux/arm64, built and started under qemu emulation:
#   ops/images/arm64.sh        (make test-arm64; not part of make test: it takes long here)
# Builds event-store, tool-worker and voice-gateway from the real Dockerfiles for arm64, on arm64
# stand-ins of their bases (NVIDIA's L4T base is not to be had here: the Python stand-in takes
# its place, without CUDA), then starts the gateway with the local brain beside a Redis and waits
# until it has loaded its models and answers /readyz. Prints build times and image sizes.
# The web image is not built for arm64 here: its build stage needs Node.js 20+ for arm64, which
# no registry reachable from here ships (Debian 12's nodejs is 18).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=.venv/bin/python
ops/images/engine.sh --arm64
$PY ops/images/standins.py --arch arm64

prefix=agentic-voice-standin/arm64
args=(--platform linux/arm64
      --build-arg "BASE_IMAGE=$prefix/python:3.11-slim-bookworm"
      --build-arg "UV_IMAGE=$prefix/ghcr.io-astral-sh-uv:0.13.9")
for service in event-store tool-worker voice-gateway; do
  started=$(date +%s)
  if ! docker build -q "${args[@]}" -t "agentic-voice/$service:arm64" \
      -f "services/$service/Dockerfile" . > /dev/null; then
    echo "[arm64] error: the $service image did not build (docker build ${args[*]} ...)" >&2
    exit 1
  fi
  size=$(docker image inspect "agentic-voice/$service:arm64" --format '{{.Size}}')
  echo "[arm64] built agentic-voice/$service:arm64 in $(( $(date +%s) - started )) s," \
       "$(( size / 1000000 )) MB"
done

# The gateway, local brain, under emulation: beside a Redis (the arm64 Python stand-in has no
# redis-server; the host's x86 one serves, on a network of the check's own).
net=arm64-check-$$
cpuinfo=$(mktemp)
cleanup() { docker rm -f "$net-redis" "$net-gateway" >/dev/null 2>&1 || true
            docker network rm "$net" >/dev/null 2>&1 || true; rm -f "$cpuinfo"; }
trap cleanup EXIT
# qemu-user 7.2 (Debian 12) shows an emulated program the host's own x86 /proc/cpuinfo.
# onnxruntime's CPU detection cannot parse it on aarch64 and crashes at `import onnxruntime`
# (SIGSEGV; qemu then hangs). A Jetson has a real one, so only this emulated check is given an
# arm64 /proc/cpuinfo: two Cortex-A78AE cores, the Orin's (implementer 0x41, part 0xd42).
for n in 0 1; do
  printf 'processor\t: %s\nBogoMIPS\t: 62.50\n' "$n"
  printf 'Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid'
  printf ' asimdrdm lrcpc dcpop asimddp\n'
  printf 'CPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x0\n'
  printf 'CPU part\t: 0xd42\nCPU revision\t: 1\n\n'
done > "$cpuinfo"
docker network create "$net" >/dev/null
docker run -d --name "$net-redis" --network "$net" redis:7.0-alpine >/dev/null
started=$(date +%s)
docker run -d --name "$net-gateway" --network "$net" --platform linux/arm64 \
  -v "$cpuinfo:/proc/cpuinfo:ro" \
  -e REDIS_URL="redis://$net-redis:6379/0" -e VOICE_BRAIN=local \
  "agentic-voice/voice-gateway:arm64" >/dev/null
for _ in $(seq 1 600); do
  if docker exec "$net-gateway" python -c \
      "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8090/readyz', timeout=5)" \
      >/dev/null 2>&1; then
    # /readyz answers once the gateway has started, with or without its brain: the start-up
    # line says whether the local brain's models loaded.
    if ! docker logs "$net-gateway" 2>&1 | grep -q '"brain_ready": true'; then
      echo "[arm64] error: the gateway started without its local brain; its last lines:" >&2
      docker logs --tail 20 "$net-gateway" >&2
      exit 1
    fi
    arch=$(docker exec "$net-gateway" uname -m)
    rss=$(docker stats --no-stream --format '{{.MemUsage}}' "$net-gateway" | cut -d/ -f1)
    echo "[arm64] the gateway ($arch, emulated) loaded the local brain and answered /readyz" \
         "$(( $(date +%s) - started )) s after start; memory $rss"
    exit 0
  fi
  if [ "$(docker inspect -f '{{.State.Running}}' "$net-gateway")" != "true" ]; then
    echo "[arm64] error: the gateway exited; its last lines:" >&2
    docker logs --tail 20 "$net-gateway" >&2
    exit 1
  fi
  sleep 1  # polling /readyz: loading the models under emulation takes minutes
done
echo "[arm64] error: no /readyz within 10 minutes; the gateway's last lines:" >&2
docker logs --tail 20 "$net-gateway" >&2
exit 1
