"""The token core is framework-free: importing and using it loads no web or database library.

Each check runs in a fresh interpreter, since this test process has long since imported
Flask, SQLAlchemy and Redis for other tests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ["flask", "flask_sqlalchemy", "redis", "sqlalchemy", "werkzeug"]

_PRELUDE = f"""
import json, sys
from datetime import datetime, timezone

HEAVY = {HEAVY!r}

def loaded():
    return sorted({{name.split(".")[0] for name in sys.modules}} & set(HEAVY))

import sso.multipass as mp

NOW = datetime(2024, 2, 29, 12, 0, tzinfo=timezone.utc)

def verify_twice(verifier, token):
    # The claims of the first verify(), and whether the second was refused as a replay.
    verified = verifier.verify(token, now=NOW)
    try:
        verifier.verify(token, now=NOW)
    except mp.ReplayedToken:
        return verified, True
    return verified, False
"""

PURE = _PRELUDE + """
codec = mp.MultipassCodec(["new secret", "old secret"])
token = codec.encode({"email": "a@example.com", "jti": "j-1"}, now=NOW)
decoded = codec.decode(token, now=NOW)
store = mp.MemoryReplayStore()
verifier = mp.MultipassVerifier(codec, store)
verified, replayed = verify_twice(verifier, token)
print(json.dumps({"file": mp.__file__, "decoded": decoded, "verified": verified,
                  "replayed": replayed, "stored": len(store), "loaded": loaded()}))
"""

SQL = _PRELUDE + """
before = loaded()
import sqlalchemy as sa

engine = sa.create_engine("sqlite:///" + sys.argv[1])
store = mp.SqlReplayStore(engine)
store.create_table()
verifier = mp.MultipassVerifier("secret", store)
token = mp.MultipassCodec("secret").encode({"email": "a@example.com", "jti": "j-2"}, now=NOW)
verified, replayed = verify_twice(verifier, token)
with engine.connect() as conn:
    rows = conn.execute(sa.text("SELECT token_key FROM multipass_used_tokens")).scalars().all()
engine.dispose()
print(json.dumps({"before": before, "verified": verified, "replayed": replayed, "rows": rows,
                  "loaded": loaded()}))
"""

REDIS = _PRELUDE + """
import secrets

before = loaded()
store = mp.RedisReplayStore.from_url(sys.argv[1], prefix="test:pure-core:" + secrets.token_hex(6) + ":")
verifier = mp.MultipassVerifier("secret", store)
token = mp.MultipassCodec("secret").encode({"email": "a@example.com", "jti": "j-3"}, now=NOW)
verified, replayed = verify_twice(verifier, token)
store.client.delete(store.prefix + "jti:j-3")
store.client.close()
print(json.dumps({"before": before, "verified": verified, "replayed": replayed, "loaded": loaded()}))
"""


def _run(script: str, *args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_importing_and_using_the_core_loads_no_framework() -> None:
    result = _run(PURE)
    assert Path(result["file"]).resolve().is_relative_to(ROOT / "sso" / "multipass")  # this tree, not a copy
    assert result["decoded"] == result["verified"] == {
        "email": "a@example.com", "jti": "j-1", "created_at": "2024-02-29T12:00:00+00:00",
    }
    assert result["replayed"] is True and result["stored"] == 1
    assert result["loaded"] == [], f"sso.multipass pulled in {result['loaded']}"


def test_the_sql_store_loads_sqlalchemy_only_when_used(tmp_path: Path) -> None:
    result = _run(SQL, str(tmp_path / "replay.db"))
    assert result["before"] == []
    assert result["verified"]["email"] == "a@example.com" and result["replayed"] is True
    assert result["rows"] == ["jti:j-2"]
    assert result["loaded"] == ["sqlalchemy"]  # and still no Flask, Werkzeug or Redis


@pytest.mark.redis
def test_the_redis_store_loads_redis_only_when_used(redis_url: str) -> None:
    result = _run(REDIS, redis_url)
    assert result["before"] == []
    assert result["verified"]["email"] == "a@example.com" and result["replayed"] is True
    assert result["loaded"] == ["redis"]  # and still no Flask, Werkzeug or SQLAlchemy
