"""The README's map points at files that exist: every module, script or folder named in its
architecture picture and its "where to find X" table is in the repository. A rename that forgets
the map fails here, naming the stale entry."""

from __future__ import annotations

import re
import subprocess

from harness.deploy_files import ROOT

_NAMED = re.compile(r"`([\w./*-]+(?:\.py|\.ts|\.tsx|/))`")
_PICTURE_MODULE = re.compile(r"\b([a-z_]+\.py)\b")


def _tracked() -> list[str]:
    out = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return out.split()


def _exists(name: str, files: list[str]) -> bool:
    name = name.removeprefix("*/")  # "*/settings.py": one in each service
    if name.endswith("/"):
        return any(f"/{name}" in f"/{path}" for path in files)
    return any(path == name or path.endswith(f"/{name}") for path in files)


def test_every_file_the_readme_names_exists() -> None:
    readme = (ROOT / "README.md").read_text()
    files = _tracked()
    named = set(_NAMED.findall(readme))
    picture = readme[readme.index("## Architecture") : readme.index("## Where to find X")]
    named |= set(_PICTURE_MODULE.findall(picture))
    named = {n for n in named if not n.lstrip("./").startswith("data/")}  # made at run time
    assert len(named) > 30, "the README's map names fewer files than expected: is it parsed?"
    assert sorted(n for n in named if not _exists(n, files)) == []
