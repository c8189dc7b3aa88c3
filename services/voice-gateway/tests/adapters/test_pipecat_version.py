"""The adapters' shared checks name what an upgrade changed."""

import pytest

from voice_gateway.adapters import pipecat_version
from voice_gateway.adapters.pipecat_version import (
    PipecatMismatch,
    require_names,
    require_pipecat_version,
)


class Service:
    def __init__(self) -> None:
        self._model = None


def test_a_function_that_no_longer_names_an_attribute_is_named_with_it() -> None:
    require_names(Service.__init__, "_model", otherwise="unused")  # still there: no error
    with pytest.raises(PipecatMismatch, match=r"Service.__init__ no longer names _load: slow"):
        require_names(Service.__init__, "_model", "_load", otherwise="slow")


def test_another_pipecat_version_is_named_with_what_to_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_pipecat_version("x.py", "y")  # the installed one: no error
    monkeypatch.setattr(pipecat_version, "PIPECAT_VERSION", "0.0.1")
    with pytest.raises(PipecatMismatch, match=r"x\.py relies on Pipecat 0\.0\.1's y, found"):
        require_pipecat_version("x.py", "y")
