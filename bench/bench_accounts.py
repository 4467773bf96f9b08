"""Benchmark of the CSV user import: 100,000 rows, against a bare bulk insert of the same rows.

Run from the repository root:

    .venv/bin/python bench/bench_accounts.py             # SQLite in a temporary folder
    .venv/bin/python bench/bench_accounts.py --postgres  # also PostgreSQL at 127.0.0.1:5432/test

The import (``sso.accounts.service.import_users_csv``) parses and checks every row, looks up
clashes and writes in chunks inside one transaction. The baseline inserts the same rows,
already built, with one SQLAlchemy ``insert(User)`` executemany per chunk: the cost of the
database write alone. Target: the import within 3x the baseline (the checks are the rest).
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import delete, insert  # noqa: E402

ROWS = 100_000
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def _app(url: str, instance: str):  # type: ignore[no-untyped-def]
    from sso import create_app

    return create_app({
        "INSTANCE_PATH": instance, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "x" * 32,
        "APP_SECRETS_KEYS": [Fernet.generate_key().decode()], "PASSWORD_HASH_FAST": True,
        "AUDIT_BUFFERED": "none",
    })


def run(url: str, instance: str) -> tuple[float, float, float]:
    """(import seconds, re-import seconds, baseline seconds) on the database at ``url``."""
    from sso.accounts.models import User, new_session_nonce
    from sso.accounts.service import import_users_csv
    from sso.base.db import db

    app = _app(url, instance)
    text = "login,email,name\n" + "".join(f"user{i},user{i}@example.com,User {i}\n" for i in range(ROWS))
    with app.app_context():
        db.drop_all()
        db.create_all()
        started = time.perf_counter()
        result = import_users_csv(io.StringIO(text))
        first = time.perf_counter() - started
        assert result.created == ROWS, result
        started = time.perf_counter()
        again = import_users_csv(io.StringIO(text))
        second = time.perf_counter() - started
        assert again.unchanged == ROWS
        db.session.execute(delete(User))
        db.session.commit()
        rows = [
            {"login": f"user{i}", "login_key": f"user{i}", "email": f"user{i}@example.com",
             "email_key": f"user{i}@example.com", "name": f"User {i}", "active": True, "is_admin": False,
             "password_hash": None, "session_nonce": new_session_nonce()}
            for i in range(ROWS)
        ]
        started = time.perf_counter()
        for start in range(0, ROWS, 5000):
            db.session.execute(insert(User), rows[start : start + 5000])
        db.session.commit()
        baseline = time.perf_counter() - started
        db.drop_all()
        db.engine.dispose()
    return first, second, baseline


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", action="store_true", help="also run on PostgreSQL (a fresh schema)")
    args = parser.parse_args()
    targets: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        targets.append(("SQLite", f"sqlite:///{tmp}/bench.sqlite3"))
        if args.postgres:
            from examples.stack import postgres_schema

            schema = postgres_schema(POSTGRES, prefix="bench_")
            targets.append(("PostgreSQL", schema.__enter__()))
        print(f"CSV import of {ROWS:,} users (one transaction) vs a bare bulk insert of the same rows")
        print(f"{'database':<12} {'import s':>9} {'re-import s':>12} {'baseline s':>11} {'ratio':>6}")
        try:
            for name, url in targets:
                first, second, baseline = run(url, tmp)
                print(f"{name:<12} {first:>9.2f} {second:>12.2f} {baseline:>11.2f} {first / baseline:>6.2f}")
        finally:
            if args.postgres:
                schema.__exit__(None, None, None)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
