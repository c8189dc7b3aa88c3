"""Stand-ins for the base images the project's Dockerfiles and compose files name, built from
Debian's packages, for machines that cannot pull from a registry (the test machines here).

    python ops/images/standins.py [--arch amd64|arm64]

For each image named in the Dockerfiles and compose files (`named_images()`), an image already
present is used as it is; a missing one is built from its recipe in this folder on a Debian 12
base made with debootstrap, tagged with the name the files use (on arm64 with `ARM64_PREFIX`, as
one engine holds one architecture per name), and labelled as a stand-in. Nothing in the real
Dockerfiles or compose files changes: a machine that can pull gets the real images.
Grafana is not in Debian's packages, and NVIDIA's L4T base is not to be had here: both are named
in `UNAVAILABLE` with the reason, and left out of the live runs.
"""

from __future__ import annotations

import argparse
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DOCKERFILES = [
    ROOT / "services/event-store/Dockerfile",
    ROOT / "services/tool-worker/Dockerfile",
    ROOT / "services/voice-gateway/Dockerfile",
    ROOT / "web/Dockerfile",
]
COMPOSE_FILES = [ROOT / "docker-compose.yml", ROOT / "docker-compose.jetson.yml"]

# Each stand-in: the image name the files use -> its recipe (a folder here).
RECIPES = {
    "python:3.11-slim-bookworm": "python",
    "ghcr.io/astral-sh/uv:0.13.9": "uv",
    "redis:7.0-alpine": "redis",
    "nginx:1.27-alpine": "nginx",
    "prom/prometheus:v3.5.0": "prometheus",
    "node:22-bookworm-slim": "node",
}
UNAVAILABLE = {
    "grafana/grafana:12.2.0": "Grafana is not in Debian's packages and cannot be pulled here: "
    "its provisioning and dashboards are checked statically (tests/ops/test_grafana.py)",
    "nvcr.io/nvidia/l4t-jetpack:r36.4.0": "NVIDIA's L4T base needs NVIDIA's registry: on arm64 "
    "the Python stand-in takes its place (no CUDA; the local brain runs on the CPU)",
}
# On arm64 only what the Python services' Dockerfiles build on (the Jetson overlay builds them
# for arm64; Redis, nginx and Prometheus stay the host's in the emulation check).
ARM64_RECIPES = ("python:3.11-slim-bookworm", "ghcr.io/astral-sh/uv:0.13.9")
DEBIAN_BASE = "agentic-voice-standin/debian:bookworm"
ARM64_PREFIX = "agentic-voice-standin/arm64/"
LABEL = "io.agentic-voice.stand-in-for"
DEBIAN_MIRROR = "http://deb.debian.org/debian"


class StandInError(RuntimeError):
    """A stand-in could not be made: says which and why."""


def named_images() -> set[str]:
    """Every base image the Dockerfiles (their ARG defaults) and compose files (`image:`, and
    `${VAR:-default}` in build args) name, but the project's own."""
    names: set[str] = set()
    for dockerfile in DOCKERFILES:
        names |= set(re.findall(r"^ARG \w+_IMAGE=(\S+)", dockerfile.read_text(), re.M))
    for compose in COMPOSE_FILES:
        text = compose.read_text()
        names |= set(re.findall(r"^\s+image: ([^\s$]+)\s*$", text, re.M))
        names |= set(re.findall(r"_IMAGE:-([^}\s]+)\}", text))
    return {name for name in names if not name.startswith("agentic-voice/")}


def tag_for(name: str, arch: str) -> str:
    return name if arch == "amd64" else ARM64_PREFIX + name.replace("/", "-")


def present(tag: str) -> bool:
    return _docker("image", "inspect", tag, check=False).returncode == 0


def build_all(arch: str) -> list[str]:
    """Make every missing stand-in for `arch`; returns the tags built."""
    wanted = RECIPES if arch == _host_arch() else ARM64_RECIPES
    missing = [name for name in sorted(wanted) if not present(tag_for(name, arch))]
    for name in sorted(UNAVAILABLE):
        print(f"[images] not built: {name}: {UNAVAILABLE[name]}")
    if not missing:
        print(f"[images] every base image is present ({arch})")
        return []
    base = tag_for(DEBIAN_BASE, arch)
    if not present(base):
        debian_base(base, arch)
    for name in missing:
        tag = tag_for(name, arch)
        started = time.monotonic()
        build(name, tag, base, arch)
        print(f"[images] built stand-in {tag} ({time.monotonic() - started:.0f} s)")
    return [tag_for(name, arch) for name in missing]


def debian_base(tag: str, arch: str) -> None:
    """Debian 12 (minbase, Python 3.11, CA certificates) by debootstrap, imported as `tag`."""
    if shutil.which("debootstrap") is None:
        raise StandInError("debootstrap is not installed (apt-get install debootstrap)")
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="standin-rootfs-") as rootfs:
        _run(
            "debootstrap", "--variant=minbase", f"--arch={arch}",
            "--include=python3.11,ca-certificates", "bookworm", rootfs, DEBIAN_MIRROR,
            what=f"debootstrap of Debian 12 ({arch})",
        )  # fmt: skip
        # This machine's CA bundle: package indexes may be reached through its proxy.
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", f"{rootfs}/etc/ssl/certs/")
        Path(rootfs, "etc/apt/apt.conf.d/docker-clean").write_text(
            'APT::Install-Recommends "false";\n'
        )
        with tempfile.TemporaryDirectory(prefix="standin-base-") as context:
            _run("tar", "-C", rootfs, "-cf", f"{context}/rootfs.tar", ".", what="tar of the rootfs")
            import_rootfs(Path(context), tag, arch)
    print(f"[images] built {tag} by debootstrap ({time.monotonic() - started:.0f} s)")


def import_rootfs(context: Path, tag: str, arch: str) -> None:
    """`context/rootfs.tar` as the image `tag` for `arch`. Built FROM scratch rather than by
    `docker import`: Docker 20.10's import ignores `--platform` and labels the image with the
    host's architecture, and every build on top of it for arm64 then fails."""
    (context / "Dockerfile").write_text(
        "FROM scratch\n"
        "ADD rootfs.tar /\n"
        f'LABEL {LABEL}="debian:bookworm" '
        'org.opencontainers.image.description="a stand-in made by ops/images, for tests"\n'
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt\n"
        'CMD ["bash"]\n'
    )
    _run("docker", "build", "-q", "--platform", f"linux/{arch}", "-t", tag, str(context),
         what=f"the base image {tag}")  # fmt: skip


def build(name: str, tag: str, base: str, arch: str) -> None:
    recipe = HERE / RECIPES[name]
    with tempfile.TemporaryDirectory(prefix="standin-context-") as scratch:
        context = Path(scratch) / "context"
        shutil.copytree(recipe, context)
        _add_host_files(name, context, arch)
        _run(
            "docker", "build", "--platform", f"linux/{arch}", "--build-arg", f"BASE={base}",
            "--label", f"{LABEL}={name}",
            "--label", "org.opencontainers.image.description=a stand-in made by ops/images, "
            "for tests",
            "-t", tag, str(context), what=f"the stand-in for {name}",
        )  # fmt: skip


def _add_host_files(name: str, context: Path, arch: str) -> None:
    """What a recipe takes from this machine or PyPI: uv's binary, Node.js and npm."""
    recipe = RECIPES[name]
    if recipe == "uv":
        shutil.copy(_uv_binary(name.rsplit(":", 1)[1], arch, context.parent), context / "uv")
    elif recipe == "node":
        node = shutil.which("node")
        if node is None or arch != _host_arch():
            raise StandInError(f"the node stand-in needs this machine's Node.js ({arch})")
        shutil.copy(node, context / "node")
        shutil.copytree(Path(node).resolve().parents[1] / "lib/node_modules/npm", context / "npm")


def _uv_binary(version: str, arch: str, scratch: Path) -> Path:
    """uv `version` for `arch`: the one `make setup` installed, or its wheel from PyPI."""
    if arch == _host_arch():
        found = subprocess.run(
            ["python3", "-m", "uv", "--version"], capture_output=True, text=True, check=False
        )
        if found.stdout.split()[1:2] != [version]:
            raise StandInError(f"the uv stand-in wants uv {version}: {found.stdout.strip()!r}")
        where = subprocess.run(
            ["python3", "-c", "import uv; print(uv.find_uv_bin())"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        return Path(where.stdout.strip())
    wheels = scratch / "wheels"
    _run(
        "python3", "-m", "pip", "download", "-q", f"uv=={version}", "--no-deps",
        "--only-binary=:all:", "--platform", "manylinux_2_28_aarch64", "-d", str(wheels),
        what=f"downloading uv {version} for {arch}",
    )  # fmt: skip
    [wheel] = wheels.glob("uv-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        member = next(n for n in archive.namelist() if n.endswith("/scripts/uv"))
        target = scratch / "uv-binary"
        target.write_bytes(archive.read(member))
    target.chmod(0o755)  # a zip member's bytes carry no mode: the build's COPY keeps this one
    return target


def _host_arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}[platform.machine()]


def _docker(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check)


def _run(*argv: str, what: str) -> None:
    done = subprocess.run(argv, capture_output=True, check=False)
    output = (done.stdout + done.stderr).decode(errors="replace")
    if done.returncode != 0:
        tail = "\n".join(output.strip().splitlines()[-15:])
        raise StandInError(f"{what} failed (exit {done.returncode}):\n{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", choices=["amd64", "arm64"], default=_host_arch())
    args = parser.parse_args()
    try:
        build_all(args.arch)
    except StandInError as exc:
        print(f"[images] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
