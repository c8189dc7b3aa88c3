"""nginx as a plain process: render the project's one configuration and describe the process.

The template (ops/nginx/agentic-voice.conf.template) is the file the nginx container renders
at start; here it is rendered the same way (only the named `${VAR}`s are replaced, nginx's own
`$variables` are left alone) and wrapped in a main configuration that keeps pid, logs and
temporary files under the run's folder.
"""

from __future__ import annotations

import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "ops" / "nginx" / "agentic-voice.conf.template"
MAIN_TEMPLATE = ROOT / "ops" / "nginx" / "local-main.conf.template"
TEMPLATE_VARIABLES = (
    "NGINX_PORT",
    "GATEWAY_UPSTREAM",
    "EVENT_STORE_UPSTREAM",
    "NGINX_TLS_CERT",
    "NGINX_TLS_KEY",
    "NGINX_WEB_ROOT",
    "NGINX_ACCESS_LOG",
)
_VARIABLE = re.compile(r"\$\{([A-Z_]+)\}")


def render(template: str, values: Mapping[str, str]) -> str:
    """envsubst restricted to `values`' names; a name the template uses but `values` lacks fails."""
    missing = {name for name in _VARIABLE.findall(template) if name not in values}
    if missing:
        raise KeyError(f"no value for {', '.join(sorted(missing))}")
    return _VARIABLE.sub(lambda match: values[match.group(1)], template)


@dataclass(frozen=True)
class NginxSite:
    port: int
    gateway: str  # host:port
    event_store: str  # host:port
    cert: Path
    key: Path
    web_root: Path
    access_log: Path  # written without query strings (the template's log format)

    def values(self) -> dict[str, str]:
        return {
            "NGINX_PORT": str(self.port),
            "GATEWAY_UPSTREAM": self.gateway,
            "EVENT_STORE_UPSTREAM": self.event_store,
            "NGINX_TLS_CERT": str(self.cert),
            "NGINX_TLS_KEY": str(self.key),
            "NGINX_WEB_ROOT": str(self.web_root),
            "NGINX_ACCESS_LOG": str(self.access_log),
        }


def write_config(site: NginxSite, run_dir: Path, log_dir: Path) -> Path:
    """Render both files into `run_dir`; returns the main configuration's path."""
    run_dir.mkdir(parents=True, exist_ok=True)
    log_dir.mkdir(parents=True, exist_ok=True)
    site.access_log.parent.mkdir(parents=True, exist_ok=True)
    (run_dir / "agentic-voice.conf").write_text(render(TEMPLATE.read_text(), site.values()))
    main = run_dir / "nginx.conf"
    main.write_text(
        render(
            MAIN_TEMPLATE.read_text(),
            {"NGINX_RUN_DIR": str(run_dir.resolve()), "NGINX_LOG_DIR": str(log_dir.resolve())},
        )
    )
    return main


def ensure_certificate(tls_dir: Path) -> tuple[Path, Path]:
    """The self-signed certificate made at setup (scripts/gen-cert.sh), made now if missing."""
    cert, key = tls_dir / "tls.crt", tls_dir / "tls.key"
    if not (cert.exists() and key.exists()):
        subprocess.run([str(ROOT / "scripts" / "gen-cert.sh"), str(tls_dir)], check=True)
    return cert, key


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def check_config(main: Path) -> subprocess.CompletedProcess[str]:
    """`nginx -t` on a rendered configuration (the error log option keeps it off /var/log)."""
    return subprocess.run(
        [nginx_binary(), "-t", "-q", "-c", str(main), "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )


def https_ready(url: str) -> Callable[[], bool]:
    # The certificate is our own self-signed one: readiness is about nginx answering, not trust.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1, context=context) as response:  # noqa: S310
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    return check
