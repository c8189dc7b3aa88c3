"""`nginx -t` on the one nginx configuration, rendered as `make run` renders it, and the
renderer's contract with the template (the same names the nginx image substitutes)."""

import re
from pathlib import Path

import pytest

import nginx_site

SITE = nginx_site.NginxSite(
    port=8443,
    gateway="127.0.0.1:8090",
    event_store="127.0.0.1:8091",
    cert=Path("tls.crt"),
    key=Path("tls.key"),
    web_root=Path("dist"),
    access_log=Path("logs/nginx-access.log"),
)


def _site(tmp_path: Path) -> nginx_site.NginxSite:
    cert, key = nginx_site.ensure_certificate(tmp_path / "tls")
    web_root = tmp_path / "dist"
    web_root.mkdir()
    access_log = tmp_path / "logs" / "nginx-access.log"
    return nginx_site.NginxSite(
        8443, "127.0.0.1:8090", "127.0.0.1:8091", cert, key, web_root, access_log
    )


def test_the_rendered_configuration_passes_nginx_t(tmp_path: Path) -> None:
    main = nginx_site.write_config(_site(tmp_path), tmp_path / "run", tmp_path / "logs")
    checked = nginx_site.check_config(main)
    assert checked.returncode == 0, checked.stderr
    rendered = (tmp_path / "run" / "agentic-voice.conf").read_text()
    assert "${" not in rendered
    assert "proxy_pass http://voice_gateway;" in rendered
    assert "$http_upgrade" in rendered  # nginx's own variables are left alone


def test_the_access_log_leaves_query_strings_out() -> None:
    """A socket's ticket travels in its URL: the site logs its own format, without `$request`,
    `$request_uri`, `$args` or `$query_string` (tests/security checks a real log)."""
    template = nginx_site.TEMPLATE.read_text()
    formats = re.findall(r"log_format\s+(\w+)\s+((?:'[^']*'\s*)+);", template)
    assert [name for name, _ in formats] == ["agentic_voice"]
    logged = set(re.findall(r"\$\w+", formats[0][1]))
    assert "$path_without_query" in logged
    assert not logged & {"$request", "$request_uri", "$args", "$query_string", "$http_referer"}
    assert "access_log ${NGINX_ACCESS_LOG} agentic_voice;" in template
    assert "access_log off;" in nginx_site.MAIN_TEMPLATE.read_text()


def test_nginx_t_catches_a_broken_configuration(tmp_path: Path) -> None:
    main = nginx_site.write_config(_site(tmp_path), tmp_path / "run", tmp_path / "logs")
    site_conf = tmp_path / "run" / "agentic-voice.conf"
    site_conf.write_text(site_conf.read_text().replace("proxy_buffering off;", "proxy_buffering;"))
    checked = nginx_site.check_config(main)
    assert checked.returncode != 0
    assert "proxy_buffering" in checked.stderr


def test_the_template_uses_exactly_the_documented_names() -> None:
    names = set(nginx_site._VARIABLE.findall(nginx_site.TEMPLATE.read_text()))
    assert names == set(nginx_site.TEMPLATE_VARIABLES)
    assert set(SITE.values()) == names
    with pytest.raises(KeyError, match="NGINX_PORT"):
        nginx_site.render("listen ${NGINX_PORT};", {})
