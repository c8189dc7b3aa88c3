"""The browser's names for how a session ends are generated from libs/contracts: a change on
either side without regenerating fails here (scripts/gen_web_vocabulary.py)."""

import subprocess
import sys

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
