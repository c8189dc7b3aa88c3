"""What the nginx front must do for a browser, checked the same way for `make run`'s nginx
(tests/e2e) and the web image under compose (tests/containers): TLS, the security headers on
every response, the client's routes and caching."""

from __future__ import annotations

import re
import ssl

import httpx

SECURITY_HEADERS = {
    "strict-transport-security": "max-age=31536000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def check_client_is_served(url: str, tls: ssl.SSLContext) -> str:
    """Checks the page, a client route, a built asset and an unknown API path; returns the
    page, for the caller to compare with the build it expects."""
    async with httpx.AsyncClient(base_url=url, verify=tls) as http:
        index = await http.get("/")
        route = await http.get("/voice/conv-deep-link")  # a client route, not a file
        script = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
        assert script is not None, index.text[:500]
        asset = await http.get(script.group(1))
        unknown_api = await http.get("/api/nothing-here")

    assert index.status_code == 200
    assert index.http_version == "HTTP/1.1"
    for name, value in SECURITY_HEADERS.items():
        assert index.headers[name] == value, name
    csp = index.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "microphone=(self)" in index.headers["permissions-policy"]
    assert index.headers["cache-control"] == "no-cache"
    assert "server" not in index.headers or index.headers["server"] == "nginx"  # no version

    assert (route.status_code, route.text) == (200, index.text)
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "max-age=31536000"
    assert asset.headers["x-content-type-options"] == "nosniff"  # kept beside caching
    assert unknown_api.status_code == 404
    return index.text
