"""The browser's names for how a session ends are generated from libs/contracts: a change on
either side without regenerating fails here (scripts/gen_web_vocabulary.py)."""

import subprocess
import sys

from contracts.browser import ErrorCode
from contracts.session import CloseCode
from harness.deploy_files import ROOT


def test_the_generated_typescript_matches_the_contracts() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_web_vocabulary.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_the_browser_takes_its_retry_rule_from_the_generated_file() -> None:
    """reconnect.ts must not keep a list of its own beside the generated one."""
    source = (ROOT / "web" / "src" / "session" / "reconnect.ts").read_text()
    assert 'from "../protocol/vocabulary"' in source
    assert "RETRYABLE_CLOSE_CODES.has(" in source
    assert "new Set([1" not in source


def test_every_error_and_close_code_is_documented() -> None:
    """docs/protocol.md lists what a client may receive: each `error` code and close code."""
    doc = (ROOT / "docs" / "protocol.md").read_text()
    missing = [code.value for code in ErrorCode if f"`{code.value}`" not in doc]
    missing += [str(code.value) for code in CloseCode if f"| {code.value} |" not in doc]
    assert missing == []
