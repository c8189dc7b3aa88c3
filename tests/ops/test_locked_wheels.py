"""Every package an image installs from uv.lock comes as a wheel for the image's platform: CPython
3.11 on glibc 2.35 (Ubuntu 22.04 under L4T r36; Debian 12 has 2.36), arm64 and x86-64. So a
Jetson build never compiles native code (the images carry no compiler), and a lock change
that drops an arm64 wheel fails here rather than on someone's board."""

from __future__ import annotations

import os
import subprocess
import tomllib
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import canonicalize_name, parse_wheel_filename

from harness.deploy_files import ROOT

GLIBC_MINOR = 35
IMAGES = {
    "event-store": (),
    "tool-worker": (),
    "voice-gateway": ("--extra", "local"),  # the Dockerfile's default GATEWAY_EXTRAS
}
# Published as a source archive only, and pure Python: uv builds it without a compiler.
PURE_PYTHON_SDISTS = {"docopt"}


def _tags(arch: str) -> set[Tag]:
    # Down to manylinux1 (glibc 2.5): pyrnnoise's only x86_64 wheel carries that old tag.
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(GLIBC_MINOR, 4, -1)]
    platforms += [f"manylinux{year}_{arch}" for year in (2014, 2010, 1)] + [f"linux_{arch}"]
    return set(cpython_tags((3, 11), platforms=platforms)) | set(
        compatible_tags((3, 11), "cp311", platforms)
    )


def _environment(arch: str) -> dict[str, str]:
    return {
        "platform_machine": arch,
        "sys_platform": "linux",
        "platform_system": "Linux",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "python_version": "3.11",
        "python_full_version": "3.11.13",
    }


def _locked() -> dict[tuple[str, str], dict[str, Any]]:
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    return {(canonicalize_name(p["name"]), p["version"]): p for p in lock["package"]}


def _installed_by(image: str) -> list[Requirement]:
    """What `uv sync --frozen --no-dev --package <image>` installs, as uv itself resolves it."""
    options = ["--frozen", "--no-dev", "--no-hashes", "--no-header", "--no-annotate"]
    package = ["--no-emit-workspace", "--package", f"agentic-voice-{image}", *IMAGES[image]]
    # `uv run` names its own binary in UV (and puts the venv's python3, without uv, first on
    # PATH); `make test` runs pytest directly, with the python3 that setup installed uv into.
    uv = [os.environ["UV"]] if "UV" in os.environ else ["python3", "-m", "uv"]
    result = subprocess.run(
        [*uv, "export", *options, *package],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [Requirement(line) for line in result.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize("arch", ["aarch64", "x86_64"])
@pytest.mark.parametrize("image", sorted(IMAGES))
def test_every_locked_package_has_a_wheel_for_the_image_platform(image: str, arch: str) -> None:
    locked, tags, environment = _locked(), _tags(arch), _environment(arch)
    requirements = _installed_by(image)
    assert len(requirements) > 10
    without_wheel = set()
    for requirement in requirements:
        if requirement.marker is not None and not requirement.marker.evaluate(environment):
            continue
        (pin,) = requirement.specifier
        entry = locked[(canonicalize_name(requirement.name), pin.version)]
        wheels = [wheel["url"].rsplit("/", 1)[1] for wheel in entry.get("wheels", [])]
        if not any(tags & parse_wheel_filename(wheel)[3] for wheel in wheels):
            without_wheel.add(canonicalize_name(requirement.name))
    assert without_wheel <= PURE_PYTHON_SDISTS
