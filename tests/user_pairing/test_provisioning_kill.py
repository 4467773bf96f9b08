"""A provisioning worker killed with SIGKILL mid-batch loses nothing and duplicates nothing.

The worker is the real command (``flask --app wsgi provisioning run``) in its own process;
the app is the REAL reference invoicing app's SCIM server on a loopback port.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from sso.base.db import db
from user_pairing.models import OutboxEntry, ProvisioningStatus

from .conftest import INVOICING_SCIM_TOKEN
from .helpers import set_directory

ROOT = Path(__file__).resolve().parents[2]
USERS = 150


def _worker(hub_config: dict[str, object], log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        SSO_DATABASE_URL=str(hub_config["SQLALCHEMY_DATABASE_URI"]),
        SSO_INSTANCE_PATH=str(hub_config["INSTANCE_PATH"]),
        SSO_SECRET_KEY=str(hub_config["SECRET_KEY"]),
        SSO_APP_SECRETS_KEY=",".join(hub_config["APP_SECRETS_KEYS"]),  # type: ignore[arg-type]
        SSO_PAIRING_PROVISIONING_BATCH="10",
        SSO_PAIRING_PROVISIONING_LEASE="5",
        SSO_PAIRING_PROVISIONING_POLL="0.1",
    )
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "provisioning", "run"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )


def _pending() -> int:
    db.session.rollback()  # a fresh read of what the worker process committed
    return int(db.session.scalar(sa.select(sa.func.count(OutboxEntry.id))) or 0)


def _until(condition, seconds: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)  # polling another process, not waiting for the hub's clock
    return False


def _stop(worker: subprocess.Popen[bytes]) -> None:
    """Stop a worker with SIGTERM (its normal stop); on a busy machine give it time, and kill
    it only if it does not stop at all (what is tested is what it delivered, not how fast it stops)."""
    worker.send_signal(signal.SIGTERM)
    try:
        worker.wait(30)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait(10)


@pytest.mark.slow
def test_sigkill_mid_batch_loses_and_duplicates_nothing(  # type: ignore[no-untyped-def]
    app, connected_app, hub_config, invoicing_scim, tmp_path
) -> None:
    from sso.accounts.service import import_users_csv

    set_directory(app, "scim", invoicing_scim, INVOICING_SCIM_TOKEN)
    lines = "".join(f"p{i:03d},p{i:03d}@example.com,Person {i}\n" for i in range(USERS))
    with app.app_context():
        import_users_csv(io.StringIO("login,email,name\n" + lines))
        assert _pending() == USERS

        log = tmp_path / "worker.log"
        worker = _worker(hub_config, log)
        try:
            assert _until(lambda: 0 < _pending() <= USERS - 25, 60), log.read_text()
            worker.send_signal(signal.SIGKILL)
            worker.wait(10)
        finally:
            if worker.poll() is None:
                worker.kill()
        left = _pending()
        assert 0 < left < USERS  # killed mid-way

        worker = _worker(hub_config, log)
        try:
            assert _until(lambda: _pending() == 0, 90), log.read_text()
        finally:
            _stop(worker)
        db.session.rollback()
        status = db.session.scalars(sa.select(ProvisioningStatus)).one()
        assert status.last_error is None  # no 409: nothing was POSTed twice
        assert status.delivered == USERS

    answer = httpx.get(f"{invoicing_scim}/Users", params={"count": 1000},
                       headers={"Authorization": f"Bearer {INVOICING_SCIM_TOKEN}"})
    answer.raise_for_status()
    people = [u for u in answer.json()["Resources"] if u["userName"].startswith("p")]
    assert sorted(u["userName"] for u in people) == [f"p{i:03d}" for i in range(USERS)]
    assert all(u["emails"][0]["value"] == f"{u['userName']}@example.com" for u in people)


def _kill_mid_batch_then_finish(hub_config: dict[str, object], log: Path, total: int) -> None:
    """Start the worker, SIGKILL it once some but not all of ``total`` rows are delivered,
    then run a fresh worker until the outbox is empty."""
    worker = _worker(hub_config, log)
    try:
        assert _until(lambda: 0 < _pending() <= total - 25, 60), log.read_text()
        worker.send_signal(signal.SIGKILL)
        worker.wait(10)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert 0 < _pending() < total  # killed mid-way
    worker = _worker(hub_config, log)
    try:
        assert _until(lambda: _pending() == 0, 90), log.read_text()
    finally:
        _stop(worker)


def _remote_people(url: str) -> dict[str, dict[str, object]]:
    answer = httpx.get(f"{url}/Users", params={"count": 1000}, headers={"Authorization": f"Bearer {INVOICING_SCIM_TOKEN}"})
    answer.raise_for_status()
    return {u["userName"]: u for u in answer.json()["Resources"] if u["userName"].startswith(("p", "q"))}


@pytest.mark.slow
def test_sigkill_mid_batch_of_updates_and_deactivations(  # type: ignore[no-untyped-def]
    app, connected_app, hub_config, invoicing_scim, tmp_path
) -> None:
    """Changes (login, e-mail, name) and deactivations: after a kill and a restart every user
    holds the hub's values, each exactly once, and nothing was refused."""
    from sso.accounts.models import User
    from sso.accounts.service import deactivate_user, import_users_csv, update_user

    set_directory(app, "scim", invoicing_scim, INVOICING_SCIM_TOKEN)
    lines = "".join(f"p{i:03d},p{i:03d}@example.com,Person {i}\n" for i in range(USERS))
    log = tmp_path / "worker.log"
    with app.app_context():
        import_users_csv(io.StringIO("login,email,name\n" + lines))
        worker = _worker(hub_config, log)  # the creations, delivered without a kill
        try:
            assert _until(lambda: _pending() == 0, 90), log.read_text()
        finally:
            _stop(worker)
        created = {login: u["id"] for login, u in _remote_people(invoicing_scim).items()}
        assert len(created) == USERS

        for user in db.session.scalars(sa.select(User).where(User.login.like("p%")).order_by(User.login)):
            i = int(user.login[1:])
            if i % 2:
                deactivate_user(user)
            else:
                update_user(user, login=f"q{i:03d}", email=f"q{i:03d}@example.org", name=f"Person Q{i}")
        assert _pending() == USERS

        _kill_mid_batch_then_finish(hub_config, log, USERS)
        db.session.rollback()
        status = db.session.scalars(sa.select(ProvisioningStatus)).one()
        assert status.last_error is None  # nothing refused (no 409 from a duplicate)
        assert status.delivered == 2 * USERS  # each row delivered once

    people = _remote_people(invoicing_scim)
    assert len(people) == USERS  # nobody created twice
    for i in range(USERS):
        if i % 2:
            person = people[f"p{i:03d}"]
            assert person["active"] is False and person["id"] == created[f"p{i:03d}"]
        else:
            person = people[f"q{i:03d}"]
            assert person["id"] == created[f"p{i:03d}"]  # renamed in place
            assert person["emails"][0]["value"] == f"q{i:03d}@example.org"  # type: ignore[index]
            assert person["displayName"] == f"Person Q{i}" and person["active"] is True
