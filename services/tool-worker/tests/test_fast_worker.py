"""Canary: fails on an arq upgrade that changes the loop FastWorker forked, or a name it uses."""

import pytest

from tool_worker import fast_worker
from tool_worker.fast_worker import ArqMismatch, FastWorker, self_check


def test_the_installed_arq_is_the_one_fast_worker_forked() -> None:
    self_check()


def test_a_changed_main_loop_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_worker, "FORKED_MAIN_SHA256", "0" * 16)
    with pytest.raises(ArqMismatch, match=r"Worker\.main changed"):
        self_check()


def test_a_missing_name_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fast_worker, "USED", ("_pool", "_renamed_in_a_new_arq"))
    with pytest.raises(ArqMismatch, match="_renamed_in_a_new_arq"):
        self_check()


def test_fast_worker_overrides_only_main() -> None:
    assert [name for name in vars(FastWorker) if callable(vars(FastWorker)[name])] == [
        "__init__",
        "main",
    ]
