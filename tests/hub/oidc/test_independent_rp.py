"""An independent relying party, panva's ``openid-client`` (npm) run with node, against the hub.

Install once: ``npm ci --prefix tests/hub/oidc/node`` (``.ci/run`` does it). It discovers
the hub, runs the code flow with PKCE S256 and a nonce, checks the ID token against
``jwks_uri`` (and ``iss`` in the authorization response), reads userinfo, refreshes
(rotation), revokes, and builds the end-session URL the test then follows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.hub.oidc.conftest import POST_LOGOUT, REDIRECT, LiveHub

NODE_DIR = Path(__file__).resolve().parent / "node"


@pytest.fixture
def rp_script() -> Path:
    if shutil.which("node") is None:
        unavailable("node is missing (apt-get install nodejs)")
    if not (NODE_DIR / "node_modules" / "openid-client").is_dir():
        unavailable(f"openid-client is not installed: npm ci --prefix {NODE_DIR.relative_to(Path.cwd())}")
    return NODE_DIR / "rp.mjs"


@pytest.mark.parametrize("client_id", ["helpdesk", "spa"])
def test_openid_client_full_flow(live_hub: LiveHub, rp_script: Path, client_id: str) -> None:
    secret = live_hub.confidential_secret if client_id == "helpdesk" else "-"
    with subprocess.Popen(
        ["node", str(rp_script), live_hub.url, client_id, secret, REDIRECT, POST_LOGOUT],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        first = json.loads(process.stdout.readline() or "{}")
        assert "authorize" in first, process.stderr.read() if process.stderr else ""
        browser = live_hub.browser()
        response = browser.get(first["authorize"])
        assert response.status_code == 302, response.text
        stdout, stderr = process.communicate(response.headers["location"] + "\n", timeout=60)
        result = json.loads(stdout.strip().splitlines()[-1])["result"]
    assert "error" not in result, result
    claims = result["claims"]
    assert claims["iss"] == live_hub.url and claims["aud"] == client_id
    assert claims["preferred_username"] == "ann" and claims["sub"] != "ann"
    assert result["userinfo"]["sub"] == claims["sub"] and result["userinfo"]["email"] == "ann@example.com"
    assert result["rotated"] is True
    assert result["refreshed_claims"]["auth_time"] == claims["auth_time"]
    assert result["userinfo_after_refresh"]["sub"] == claims["sub"]
    assert result["refresh_after_revocation"] == "invalid_grant"
    assert result["reuse_of_rotated"] == "invalid_grant"
    logout = browser.get(result["end_session"])
    assert logout.status_code == 302, logout.text.split("<main>")[-1][:400]
    assert logout.headers["location"] == POST_LOGOUT + "?state=bye"
    assert browser.get("/").status_code == 302  # the hub session ended
