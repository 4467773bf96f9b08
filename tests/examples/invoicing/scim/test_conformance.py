"""The independent SCIM conformance tester, scim2-tester (through scim2-cli), against the real app.

The reference app runs as its own server process (gunicorn, as in production) on a free
loopback port, with a fresh SQLite database; ``scim2 --url ... test`` runs as a second
process and must report no failure and no skip, for Users and Groups alike.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.stack import postgres_schema, stop_processes, wait_until_up
from tests.conftest import POSTGRES_URL, free_port

from ..conftest import SCIM_TOKEN

ROOT = Path(__file__).resolve().parents[4]
pytestmark = pytest.mark.slow


def scim2_command() -> str:
    beside = Path(sys.executable).with_name("scim2")
    found = str(beside) if beside.exists() else shutil.which("scim2")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("scim2-cli is not installed (it is in the dev extras)")
        pytest.skip("scim2-cli is not installed (pip install -e '.[dev]')")
    return found


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The app's database: a SQLite file, or a fresh schema on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'invoicing.sqlite3'}"
        return
    request.getfixturevalue("postgres_url")  # skips (or fails under CI) when PostgreSQL is down
    with postgres_schema(POSTGRES_URL, prefix="invoicing_") as url:
        yield url


@pytest.fixture
def app_url(tmp_path: Path, database_url: str) -> Iterator[str]:
    """The reference invoicing app under gunicorn on a free loopback port."""
    port = free_port()
    env = {
        **os.environ,
        "INVOICING_MULTIPASS_SECRETS": "a-multipass-secret-for-this-test",
        "INVOICING_HUB_URL": "http://127.0.0.1:9",
        "INVOICING_SCIM_TOKEN": SCIM_TOKEN,
        "INVOICING_DATABASE_URL": database_url,
        "INVOICING_SECRET_KEY": "a-session-key-for-this-test-only",
        "INVOICING_INSTANCE_PATH": str(tmp_path),
    }
    env.pop("INVOICING_REDIS_URL", None)
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "examples.invoicing.wsgi:app", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--threads", "4"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_processes([process])
        log.close()


def test_scim2_tester_reports_no_failure_and_no_skip(app_url: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [scim2_command(), "--url", f"{app_url}/scim/v2", "-h", f"Authorization: Bearer {SCIM_TOKEN}", "test"],
        capture_output=True, text=True, timeout=240, check=False, env={**os.environ, "NO_COLOR": "1"},
    )
    output = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)
    # One line per check, starting with its status (scim2_tester.Status): anything but SUCCESS fails.
    names = ("SUCCESS", "COMPLIANT", "ACCEPTABLE", "DEVIATION", "ERROR", "CRITICAL", "SKIPPED")
    statuses = re.findall(rf"^({'|'.join(names)})\b", output, flags=re.MULTILINE)
    counts = {status: statuses.count(status) for status in names}
    server_log = (tmp_path / "server.log").read_text(errors="replace")
    message = f"{counts}\n{output[-6000:]}\n{result.stderr[-2000:]}\nserver:\n{server_log[-3000:]}"
    assert result.returncode == 0, message
    assert [status for status in statuses if status != "SUCCESS"] == [], message
    assert counts["SUCCESS"] >= 60, message
    # Both resource types went through create, read, replace, delete and every PATCH operation.
    for resource in ("User", "Group"):
        for done in (f"Successfully created {resource} object", f"Successfully replaced {resource} object",
                     f"Successfully deleted {resource} object"):
            assert done in output, message
    for attribute in ("displayName", "members", "emails", "active", "externalId"):
        assert f"Successfully added attribute '{attribute}'" in output, message
        assert f"Successfully removed attribute '{attribute}'" in output, message
    assert "Traceback" not in server_log, server_log[-3000:]
