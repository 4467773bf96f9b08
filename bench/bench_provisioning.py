"""Benchmark of outbound provisioning and of the 100,000-user snapshot and diff.

Run from the repository root:

    .venv/bin/python bench/bench_provisioning.py             # prints the table, writes bench/README-provisioning.md
    .venv/bin/python bench/bench_provisioning.py --users 20000 --changes 500 --no-readme   # a quick run

1. Throughput: the real hub (SQLite file) imports CHANGES users, which writes CHANGES outbox rows
   in the import's transaction; the provisioning worker then delivers them (look-up, POST) to a
   conformant SCIM server (scim2-server, in-memory) running in a child process on loopback.
   The same users then get a new e-mail each (one use case per user), and the worker PATCHes them.
2. Snapshot + outbound diff: USERS hub users, a loopback SCIM server with USERS app users; the
   hub's refresh (SCIM fetch of every page, stored as the snapshot) plus the pairing report
   (the diff: who is missing, who differs), built and stored.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import platform
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_pairing import _scim_server  # noqa: E402  (the 100k-user loopback SCIM server)

SCIM_TOKEN = "bench-provisioning-token"


def _conformant_server(port_pipe: Any) -> None:
    from scim2_server.memory import InMemoryStorage
    from scim2_server.testserver.application import BearerTokenApplication
    from scim2_server.utils import load_default_provider
    from werkzeug.serving import WSGIRequestHandler, make_server

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args: Any, **kwargs: Any) -> None:
            pass

    app = BearerTokenApplication(InMemoryStorage(), load_default_provider(), bearer_tokens=[SCIM_TOKEN])
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    port_pipe.send(server.server_port)
    server.serve_forever()


def _child(target: Any, *args: Any) -> tuple[Any, int]:
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, *args), daemon=True)
    process.start()
    return process, int(parent.recv())


def _hub(tmp: str) -> Any:
    from cryptography.fernet import Fernet

    import user_pairing.hub
    from sso import create_app
    from sso.base.db import db

    app = create_app({
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/hub.sqlite3", "INSTANCE_PATH": tmp,
        "SECRET_KEY": secrets.token_urlsafe(32), "APP_SECRETS_KEYS": [Fernet.generate_key().decode()],
        "PASSWORD_HASH_FAST": True, "WTF_CSRF_ENABLED": False, "THROTTLE_STORAGE_URI": "memory://",
        "AUDIT_BUFFERED": "none", "PROVISIONING_BATCH": 500,
    }, plugins=[user_pairing.hub])
    with app.app_context():
        db.create_all()
    return app


def _drain() -> tuple[float, int]:
    from user_pairing.provisioning import Worker

    worker, delivered = Worker("bench"), 0
    start = time.perf_counter()
    while True:
        done = Worker.run_once(worker)
        if done.handled == 0:
            break
        assert done.retried == 0 and done.failed == 0, done
        delivered += done.delivered
    return time.perf_counter() - start, delivered


def time_throughput(changes: int) -> list[str]:
    from sso.accounts.models import User
    from sso.accounts.service import import_users_csv, update_user
    from sso.base.db import db
    from sso.connected_apps.service import create_connected_app
    from user_pairing import service

    rows: list[str] = []
    process, port = _child(_conformant_server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = _hub(tmp)
            with app.app_context():
                capp = create_connected_app("bench", "Bench", "https://bench.invalid/login/{token}")
                service.set_directory(capp, "scim", f"http://127.0.0.1:{port}", SCIM_TOKEN)
                lines = "".join(f"p{i},p{i}@example.com,Person {i}\n" for i in range(changes))
                start = time.perf_counter()
                import_users_csv(io.StringIO("login,email,name\n" + lines))
                enqueue = time.perf_counter() - start
                rows.append(f"| import {changes:,} users, outbox rows written in the same transaction | "
                            f"{enqueue:.2f} s | {changes / enqueue:,.0f} users/s |")
                seconds, delivered = _drain()
                assert delivered == changes, delivered
                rate = changes / seconds
                rows.append(f"| worker: create (look-up + POST) | {seconds:.2f} s | {rate:,.0f} changes/s |")
                users = list(db.session.scalars(db.select(User).where(User.login.like("p%"))))
                start = time.perf_counter()
                for user in users:
                    update_user(user, email=f"new.{user.login}@example.com")
                changed = time.perf_counter() - start
                rows.append(f"| {len(users):,} e-mail changes through the use case (outbox row each) | "
                            f"{changed:.2f} s | {len(users) / changed:,.0f} changes/s |")
                seconds, delivered = _drain()
                assert delivered == len(users), delivered
                rows.append(f"| worker: change (GET by id + PATCH) | {seconds:.2f} s | "
                            f"{len(users) / seconds:,.0f} changes/s |")
                db.session.remove()
                db.engine.dispose()
    finally:
        process.terminate()
        process.join(5)
    return rows


def time_snapshot_and_diff(n: int) -> list[str]:
    import sqlalchemy as sa
    from bench_pairing import make_users

    from sso.accounts.models import User, new_session_nonce
    from sso.base.clock import utcnow
    from sso.base.context import hub_state
    from sso.base.db import db
    from sso.connected_apps.service import create_connected_app
    from user_pairing import service

    rows: list[str] = []
    process, port = _child(_scim_server, n)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            app = _hub(tmp)
            hub_users, _ = make_users(n)
            with app.app_context():
                now = utcnow()
                batch = [
                    {"login": u.login, "login_key": u.login.lower(), "email": u.email, "email_key": u.email.lower(),
                     "name": u.name, "active": True, "is_admin": False, "password_hash": None,
                     "session_nonce": new_session_nonce(), "created_at": now, "updated_at": now}
                    for u in hub_users
                ]
                for start in range(0, len(batch), 10_000):
                    db.session.execute(sa.insert(User), batch[start : start + 10_000])
                db.session.commit()
                capp = create_connected_app("bench", "Bench", "https://bench.invalid/login/{token}")
                service.set_directory(capp, "scim", f"http://127.0.0.1:{port}", "bench-token")
                hub_state(app).features.pop("user_pairing.reports", None)
                start = time.perf_counter()
                service.refresh(capp)
                fetched = time.perf_counter() - start
                report = service.report(capp)
                total = time.perf_counter() - start
                assert len(report) >= n
                rows.append(f"| SCIM fetch of every page, stored as the snapshot | {n:,} per side | "
                            f"{fetched:.2f} s | |")
                rows.append(f"| snapshot + outbound diff (report built and stored) | {n:,} per side | "
                            f"{total:.2f} s | < 15 s |")
                db.session.remove()
                db.engine.dispose()
    finally:
        process.terminate()
        process.join(5)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000, help="users per side for the snapshot and diff")
    parser.add_argument("--changes", type=int, default=2_000, help="changes delivered for the throughput")
    parser.add_argument("--no-readme", action="store_true", help="print only; do not write the README")
    args = parser.parse_args()
    throughput = time_throughput(args.changes)
    snapshot = time_snapshot_and_diff(args.users)
    machine = f"Python {platform.python_version()}, {platform.machine()}, {multiprocessing.cpu_count()} CPUs"
    text = f"""# Provisioning benchmark

Produced by `.venv/bin/python bench/bench_provisioning.py` ({machine}). See the script's docstring
for what each line does. The SCIM servers run in child processes on loopback, so the figures include
HTTP on both sides; the hub is the real app on a SQLite file.

## Outbound provisioning throughput

| Measure | Time | Rate |
|---|---:|---:|
{chr(10).join(throughput)}

## Snapshot and outbound diff

| Measure | Users | Result | Target |
|---|---:|---:|---|
{chr(10).join(snapshot)}
"""
    print(text)
    if not args.no_readme:
        (ROOT / "bench" / "README-provisioning.md").write_text(text)


if __name__ == "__main__":
    main()
