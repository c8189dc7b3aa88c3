"""The libraries whose internals the code reaches into are pinned exactly, in every service that
uses them: an upgrade has to be a deliberate change, made with their adapters' canary tests, not
something a relock brings in quietly. Where each reach lives:

- pipecat-ai: `voice_gateway/adapters/pipecat_shared_models.py` (one ONNX session per process),
  `pipecat_realtime.py` (the Realtime service noticing a failing upstream), `pipecat_whisper.py`
  (one Whisper model per process);
- uvicorn (with fastapi, starlette and websockets, which it runs): dropping a stalled client and
  draining sessions before a signal reaches uvicorn (`voice_gateway/adapters/uvicorn_adapter.py`);
- arq: `tool_worker/fast_worker.py` (its main loop, waiting on Redis instead of polling).
"""

from __future__ import annotations

import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from harness.deploy_files import ROOT

REACHED_INTO = {"pipecat-ai", "fastapi", "starlette", "uvicorn", "websockets", "arq"}
SERVICES = ["voice-gateway", "tool-worker", "event-store"]


def _requirements(service: str) -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "services" / service / "pyproject.toml").read_text())
    reqs = (Requirement(line) for line in project["project"]["dependencies"])
    return {canonicalize_name(r.name): r for r in reqs}


@pytest.mark.parametrize("service", SERVICES)
def test_reached_into_libraries_are_pinned_exactly(service: str) -> None:
    loose = [
        str(req)
        for name, req in _requirements(service).items()
        if name in REACHED_INTO
        and not (len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==")
    ]
    assert loose == [], f"{service}: pin these exactly (==), they are reached into: {loose}"


def test_every_service_pins_the_same_versions() -> None:
    pins: dict[str, set[str]] = {}
    for service in SERVICES:
        for name, req in _requirements(service).items():
            if name in REACHED_INTO:
                pins.setdefault(name, set()).add(str(req.specifier))
    assert {name: specs for name, specs in pins.items() if len(specs) > 1} == {}
