"""Benchmark of the Multipass codec and replay stores (a script, not a test).

Run: ``.venv/bin/python bench/bench_multipass.py`` (``--quick`` for a short run,
``--no-write`` to leave bench/README-multipass.md alone).

Encode and decode of a typical 7-claim payload are timed against a minimal straight-line
implementation with the same ``cryptography`` primitives, in the same run, interleaved, best
of N repetitions (timeit style). The baseline does the minimum a correct implementation must:
derive keys once, and per token base64, length check, constant-time MAC check, AES-CBC,
PKCS#7, JSON, created_at parse and age check. Then ``claim()`` is timed per replay store,
and ``MultipassVerifier.verify()`` end to end (decode, replay key, claim) with the memory
store and with the SQL store on SQLite in a temporary file, a fresh token per call.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import platform
import secrets
import sys
import tempfile
import timeit
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cryptography
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sso.multipass import (  # noqa: E402
    MemoryReplayStore,
    MultipassCodec,
    MultipassVerifier,
    RedisReplayStore,
    ReplayStore,
    SqlReplayStore,
)

SECRET = "benchmark secret from the hub's admin page"
NOW = datetime(2024, 2, 29, 12, 0, 30, tzinfo=UTC)
CLAIMS: dict[str, Any] = {
    "email": "ann.oneil@example.com",
    "login": "ann",
    "identifier": "u-000042",
    "name": "Ann O'Neil",
    "return_to": "https://invoices.example.com/invoices/2024/INV-0042?tab=lines",
    "jti": "6f1c2b9d0e8a4f7c9b3e5d1a2c4f6e8b",
    "created_at": "2024-02-29T12:00:00+00:00",
}
POSTGRES_URL = os.environ.get("SSO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("SSO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class Baseline:
    """The minimal straight-line Multipass implementation, for comparison only."""

    def __init__(self, secret: str) -> None:
        material = hashlib.sha256(secret.encode("utf-8")).digest()
        self.aes_key, self.mac_key = material[:16], material[16:]

    def encode(self, claims: dict[str, Any]) -> str:
        plaintext = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        padder = padding.PKCS7(128).padder()
        padded = padder.update(plaintext) + padder.finalize()
        iv = os.urandom(16)
        encryptor = Cipher(algorithms.AES(self.aes_key), modes.CBC(iv)).encryptor()
        signed = iv + encryptor.update(padded) + encryptor.finalize()
        return base64.urlsafe_b64encode(signed + hmac.digest(self.mac_key, signed, "sha256")).decode("ascii")

    def decode(self, token: str, now: datetime) -> dict[str, Any]:
        if len(token) > 8192:
            raise ValueError("too long")
        raw = base64.urlsafe_b64decode(token)
        if len(raw) < 64 or (len(raw) - 48) % 16:
            raise ValueError("length")
        signed, mac = raw[:-32], raw[-32:]
        if not hmac.compare_digest(hmac.digest(self.mac_key, signed, "sha256"), mac):
            raise ValueError("MAC")
        decryptor = Cipher(algorithms.AES(self.aes_key), modes.CBC(signed[:16])).decryptor()
        padded = decryptor.update(signed[16:]) + decryptor.finalize()
        unpadder = padding.PKCS7(128).unpadder()
        claims = json.loads((unpadder.update(padded) + unpadder.finalize()).decode("utf-8"))
        age = now - datetime.fromisoformat(claims["created_at"])
        if not timedelta(seconds=-60) <= age <= timedelta(seconds=900):
            raise ValueError("time")
        return claims


def best_us(fn: Callable[[], object], number: int, repeat: int) -> float:
    """Best of ``repeat`` runs of ``number`` calls, in µs per call."""
    return min(timeit.Timer(fn).repeat(repeat=repeat, number=number)) / number * 1e6


def bench_codec(number: int, repeat: int) -> list[tuple[str, float, float]]:
    codec, base = MultipassCodec(SECRET), Baseline(SECRET)
    token = codec.encode(CLAIMS)
    assert base.decode(token, NOW) == codec.decode(token, now=NOW) == CLAIMS
    assert codec.decode(base.encode(CLAIMS), now=NOW) == CLAIMS
    pairs = {
        "encode": (lambda: codec.encode(CLAIMS), lambda: base.encode(CLAIMS)),
        "decode": (lambda: codec.decode(token, now=NOW), lambda: base.decode(token, NOW)),
    }
    rows = []
    for name, (ours, theirs) in pairs.items():
        ours_best, base_best = float("inf"), float("inf")
        for _ in range(repeat):  # interleaved, so drift hits both alike
            ours_best = min(ours_best, best_us(ours, number, 1))
            base_best = min(base_best, best_us(theirs, number, 1))
        rows.append((name, ours_best, base_best))
    return rows


def bench_stores(number: int, repeat: int) -> list[tuple[str, str]]:
    import redis
    import sqlalchemy as sa

    rows: list[tuple[str, str]] = []
    expires = 4_102_444_800.0

    def timed(store: Any, n: int) -> str:
        keys = iter([f"bench:{secrets.token_hex(12)}" for _ in range(n * repeat)])
        return f"{best_us(lambda: store.claim(next(keys), expires), n, repeat):.1f}"

    rows.append(("memory", timed(MemoryReplayStore(), number)))
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{tmp}/replay.db")
        store = SqlReplayStore(engine)
        store.create_table()
        rows.append(("SQL on SQLite (file)", timed(store, max(50, number // 40))))
        engine.dispose()
    schema = "bench_" + secrets.token_hex(4)
    admin = sa.create_engine(POSTGRES_URL)
    try:
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine = sa.create_engine(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}")
        store = SqlReplayStore(engine)
        store.create_table()
        rows.append(("SQL on PostgreSQL (loopback)", timed(store, max(50, number // 40))))
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    except sa.exc.OperationalError as err:
        rows.append(("SQL on PostgreSQL", f"unavailable: {type(err.orig).__name__}"))
    finally:
        admin.dispose()
    prefix = f"bench:{secrets.token_hex(4)}:"
    redis_store = RedisReplayStore.from_url(REDIS_URL, prefix=prefix)
    client: Any = redis_store.client
    try:
        rows.append(("Redis (loopback)", timed(redis_store, max(100, number // 10))))
        for key in client.scan_iter(prefix + "*", count=1000):
            client.delete(key)
    except redis.RedisError as err:
        rows.append(("Redis", f"unavailable: {type(err).__name__}"))
    finally:
        client.close()
    return rows


def bench_verify(number: int, repeat: int) -> list[tuple[str, float, float]]:
    """(store, ``verify()`` µs/op, codec decode µs/op) with the two timed interleaved.

    Every ``verify()`` call gets a fresh token (a new ``jti``), so each one reaches the store.
    """
    import sqlalchemy as sa

    codec = MultipassCodec(SECRET)
    token = codec.encode(CLAIMS)

    def timed(name: str, store: ReplayStore, n: int) -> tuple[str, float, float]:
        verifier = MultipassVerifier(codec, store)
        tokens = iter([codec.encode({**CLAIMS, "jti": secrets.token_hex(16)}) for _ in range(n * repeat)])
        verify_best, decode_best = float("inf"), float("inf")
        for _ in range(repeat):  # interleaved, so drift hits both alike
            verify_best = min(verify_best, best_us(lambda: verifier.verify(next(tokens), now=NOW), n, 1))
            decode_best = min(decode_best, best_us(lambda: codec.decode(token, now=NOW), n, 1))
        return name, verify_best, decode_best

    rows = [timed("codec + MemoryReplayStore", MemoryReplayStore(), number)]
    with tempfile.TemporaryDirectory() as tmp:
        engine = sa.create_engine(f"sqlite:///{tmp}/replay.db")
        store = SqlReplayStore(engine)
        store.create_table()
        rows.append(timed("codec + SqlReplayStore on SQLite (file)", store, max(50, number // 40)))
        engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    parser.add_argument("--no-write", action="store_true", help="do not write bench/README-multipass.md")
    args = parser.parse_args()
    number, repeat = (2000, 5) if args.quick else (20000, 9)

    codec_rows = bench_codec(number, repeat)
    verify_rows = bench_verify(number, repeat)
    store_rows = bench_stores(number, repeat)
    lines = [
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"{platform.machine()}; best of {repeat} runs of {number} operations.",
        "",
        "| operation (7-claim payload) | codec µs/op | minimal baseline µs/op | ratio | target |",
        "|---|---:|---:|---:|---|",
    ]
    for name, ours, base in codec_rows:
        target = "ratio ≤ 1.3" + (", ≤ 20 µs" if name == "decode" else "")
        met = ours / base <= 1.3 and (name != "decode" or ours <= 20)
        lines.append(f"| {name} | {ours:.2f} | {base:.2f} | {ours / base:.2f} | {target} {'✓' if met else '✗'} |")
    lines += [
        "",
        "| `verify()` end to end (7-claim payload) | µs/op | codec decode, same run | difference |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {name} | {us:.2f} | {dec:.2f} | {us - dec:.2f} |" for name, us, dec in verify_rows]
    lines += ["", "| replay store | `claim()` µs/op |", "|---|---:|"]
    lines += [f"| {name} | {value} |" for name, value in store_rows]
    table = "\n".join(lines)
    print(table)
    if not args.no_write:
        readme = ROOT / "bench" / "README-multipass.md"
        readme.write_text(
            "# Multipass benchmark\n\nCommand: `.venv/bin/python bench/bench_multipass.py`\n\n"
            f"Measured {datetime.now(UTC):%Y-%m-%d} on this machine:\n\n{table}\n\n"
            "The baseline is a minimal straight-line implementation with the same `cryptography`\n"
            "primitives (in the script): it does only what a correct decode must (base64, length\n"
            "bound, constant-time MAC, AES-CBC, PKCS#7, JSON, created_at and age check).\n"
            "`verify()` is `MultipassVerifier.verify` with a fresh token per call: decode, replay\n"
            "key, then `claim()`. It is timed interleaved with a plain codec decode, so the\n"
            "difference is what the verifier and its store add. The SQLite file lives in a\n"
            "temporary directory. The replay stores are timed with a fresh key per call; SQL\n"
            "stores commit one transaction per claim, so their rows follow the disk's flush time\n"
            "and vary more from run to run than the interleaved rows.\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
