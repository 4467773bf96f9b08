"""Regenerate ``valid.json`` and ``invalid.json`` with the independent implementation.

Run: ``.venv/bin/python tests/multipass/vectors/generate.py``. The output is checked in;
the tests read the JSON files, never this script. Fixed IVs make every run identical.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

import independent as spec  # noqa: E402  (the module under test is never imported here)

KAT_SECRET = "multipass secret from shop admin"
KAT_PLAINTEXT = '{"email":"nicpotts@example.com","created_at":"2013-04-11T15:16:23-04:00"}'
KAT_TOKEN = (
    "AAECAwQFBgcICQoLDA0OD5wvArRdxuLHfSVLTdRSb80pVhAt3Gz4SnITNlOketdg79sj2EYFqINRPvsMiMWwCy_pb6NH5vDStVwioPJCJpqyn6"
    "DXn5yyYvCjhP6VlSnLYZw4Qsr04V1MqnwMiKmkyHxqkTQJoaKw-a5NseIPefU="
)
KAT_NOW = "2013-04-11T19:20:00+00:00"  # 3 min 37 s after created_at
SECRET = "vector secret: zoë's shop ✓"
OTHER = "some other shop's secret"


def iv(n: int) -> bytes:
    return bytes((n + i) % 256 for i in range(16))


def valid(name: str, plaintext: str, now: str, *, n: int, strip: bool = False,
          secret: str = SECRET, codec_secrets: list[str] | None = None) -> dict[str, Any]:
    token = spec.seal(secret, plaintext.encode("utf-8"), iv(n), strip=strip)
    vector: dict[str, Any] = {
        "name": name, "secret": secret, "iv": iv(n).hex(), "plaintext": plaintext,
        "token": token, "now": now, "claims": json.loads(plaintext),
    }
    if codec_secrets:
        vector["codec_secrets"] = codec_secrets
    return vector


def invalid(name: str, token: str, reason: str, *, secret: str = SECRET,
            now: str = "2024-02-29T12:05:00+00:00", audience: str | None = None) -> dict[str, Any]:
    vector = {"name": name, "secret": secret, "token": token, "now": now, "reason": reason}
    if audience is not None:
        vector["audience"] = audience
    return vector


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


def main() -> None:
    kat = spec.seal(KAT_SECRET, KAT_PLAINTEXT.encode("utf-8"), bytes(range(16)))
    assert kat == KAT_TOKEN, "the independent implementation disagrees with the published known answer"
    assert spec.open_raw(KAT_SECRET, KAT_TOKEN).decode("utf-8") == KAT_PLAINTEXT

    base_claims = '"email":"ann@example.com","login":"ann"'
    valids = [
        {"name": "published known answer (-04:00, no fraction)", "secret": KAT_SECRET,
         "iv": bytes(range(16)).hex(), "plaintext": KAT_PLAINTEXT, "token": KAT_TOKEN, "now": KAT_NOW,
         "claims": json.loads(KAT_PLAINTEXT)},
        valid("unicode claims, Z with milliseconds (Node style)",
              '{"email":"zoë@exämple.com","name":"Zoë 山田 🙂","created_at":"2024-02-29T12:00:00.123Z"}',
              "2024-02-29T12:05:00Z", n=1),
        valid("+00:00 with microseconds (Python style)",
              '{' + base_claims + ',"created_at":"2024-02-29T12:00:00.123456+00:00"}',
              "2024-02-29T12:05:00+00:00", n=2),
        valid("-04:00 without fraction (Ruby style)",
              '{' + base_claims + ',"created_at":"2024-02-29T08:00:00-04:00"}',
              "2024-02-29T12:14:59+00:00", n=3),
        valid("naive created_at read as UTC",
              '{' + base_claims + ',"created_at":"2024-02-29T12:00:00"}',
              "2024-02-29T12:14:00+00:00", n=4),
        valid("padding stripped",
              '{' + base_claims + ',"created_at":"2024-02-29T12:00:00+00:00"}',
              "2024-02-29T12:01:00+00:00", n=5, strip=True),
        valid("plaintext of exactly 64 bytes: a full block of padding",
              '{"email":"a@example.com","created_at":"2024-02-29T12:00:00Z","x":1}',
              "2024-02-29T12:00:00Z", n=6),
        valid("nested and extra claims, hub's 7 claims",
              '{"email":"ann@example.com","login":"ann","identifier":"u-42","name":"Ann O\'Neil",'
              '"return_to":"https://crm.example.com/invoices?x=1&y=%2F","jti":"3f2a9c1e0b7d4e55",'
              '"created_at":"2024-02-29T12:00:00+00:00","tags":["a","b"],"meta":{"n":[1,2.5,null,true]}}',
              "2024-02-29T12:00:30+00:00", n=7),
        valid("old secret after rotation", '{' + base_claims + ',"created_at":"2024-02-29T12:00:00+00:00"}',
              "2024-02-29T12:00:30+00:00", n=8, secret=OTHER, codec_secrets=[SECRET, OTHER]),
        valid("created_at in the future within the 60 s leeway",
              '{' + base_claims + ',"created_at":"2024-02-29T12:01:00+00:00"}',
              "2024-02-29T12:00:00+00:00", n=9),
        # The hub's tokens name their audience (the app's slug) and carry exp (epoch seconds).
        {**valid("aud and exp (the hub's claims since staged rotation)",
                 '{' + base_claims + ',"jti":"k1","aud":"invoices","created_at":"2024-02-29T12:00:00+00:00",'
                 '"exp":1709208300}', "2024-02-29T12:05:30+00:00", n=10), "audience": "invoices"},
        valid("exp within the 60 s leeway, no audience asked for",
              '{' + base_claims + ',"aud":"crm","created_at":"2024-02-29T12:00:00+00:00","exp":1709208060.5}',
              "2024-02-29T12:02:00+00:00", n=11),
    ]

    def sealed(plaintext: bytes, n: int) -> str:
        return spec.seal(SECRET, plaintext, iv(n))

    def claims(created_at: str) -> bytes:
        return ('{' + base_claims + ',"created_at":"' + created_at + '"}').encode("utf-8")

    good = sealed(claims("2024-02-29T12:00:00+00:00"), 20)
    raw = base64.urlsafe_b64decode(good)
    flipped_mac = raw[:-1] + bytes([raw[-1] ^ 1])
    flipped_iv = bytes([raw[0] ^ 0x80]) + raw[1:]
    bad_pad_zero = spec.seal_padded(SECRET, b'{"email":"ann@example.com"}' + b"\x00" * 5, iv(21))
    bad_pad_17 = spec.seal_padded(SECRET, b'{"email":"ann@example.com"}' + b"\x11" * 5, iv(22))
    bad_pad_mixed = spec.seal_padded(SECRET, b'{"email":"ann@example.com"}' + b"\x05\x05\x05\x04\x05", iv(23))
    # A ciphertext that would fail unpadding, but its MAC is wrong: the MAC reason must win.
    bad_pad_bad_mac = spec.seal_padded(SECRET, b'{"email":"ann@example.com"}' + b"\x00" * 5, iv(24),
                                       mac_secret=OTHER)
    invalids = [
        invalid("not base64 (punctuation)", "!!!!not*base64!!!!", "base64"),
        invalid("not base64 (length 1 mod 4)", "AAAAA", "base64"),
        invalid("not ASCII", "AAAA\u00e9AAA", "base64"),
        invalid("empty", "", "length"),
        invalid("too short (63 bytes)", b64(raw[:63]), "length"),
        invalid("too short: no ciphertext block", b64(raw[:48]), "length"),
        invalid("too long (> 8 KiB) even though it starts well", good + "A" * 8192, "too long"),
        invalid("length not block-aligned", b64(raw[:16] + raw[16:33] + raw[-32:]), "length"),
        invalid("bad MAC (last bit flipped)", b64(flipped_mac), "MAC"),
        invalid("bad MAC (IV bit flipped)", b64(flipped_iv), "MAC"),
        invalid("MAC missing: ciphertext truncated by 32 bytes", b64(raw[:-32]), "MAC"),
        invalid("bad MAC on a ciphertext whose padding is also bad", bad_pad_bad_mac, "MAC"),
        invalid("valid MAC, padding byte 0", bad_pad_zero, "padding"),
        invalid("valid MAC, padding byte 17", bad_pad_17, "padding"),
        invalid("valid MAC, inconsistent padding bytes", bad_pad_mixed, "padding"),
        invalid("valid MAC, bad UTF-8", sealed(b'{"email":"\xff\xfe","created_at":"2024-02-29T12:00:00Z"}', 25),
                "UTF-8"),
        invalid("valid MAC, not JSON", sealed(b"email=ann@example.com&created_at=2024-02-29", 26), "JSON"),
        invalid("valid MAC, JSON with NaN (not standard JSON)",
                sealed(b'{"email":"a@example.com","created_at":"2024-02-29T12:00:00Z","n":NaN}', 27), "JSON"),
        invalid("valid MAC, JSON array not object", sealed(b'["ann@example.com","2024-02-29T12:00:00Z"]', 28),
                "object"),
        invalid("valid MAC, JSON number", sealed(b"1709208000", 29), "object"),
        invalid("missing created_at", sealed(b'{"email":"ann@example.com","login":"ann"}', 30), "created_at"),
        invalid("created_at unparseable", sealed(claims("yesterday at noon"), 31), "created_at"),
        invalid("created_at empty", sealed(claims(""), 32), "created_at"),
        invalid("created_at a number", sealed(b'{"email":"a@example.com","created_at":1709208000}', 33),
                "created_at"),
        invalid("created_at out of range offset", sealed(claims("2024-02-29T12:00:00+25:00"), 34), "created_at"),
        invalid("expired by one second (15 min + 1 s)", good, "expired", now="2024-02-29T12:15:01+00:00"),
        invalid("expired long ago", KAT_TOKEN, "expired", secret=KAT_SECRET, now="2024-02-29T12:00:00+00:00"),
        invalid("too far in the future (leeway + 1 s)", good, "future", now="2024-02-29T11:58:59+00:00"),
        invalid("other secret", spec.seal(OTHER, claims("2024-02-29T12:00:00+00:00"), iv(35)), "MAC"),
        invalid("KAT under another secret", KAT_TOKEN, "MAC", now=KAT_NOW),
        invalid("exp passed (beyond the leeway), created_at still young",
                sealed(b'{"email":"a@example.com","created_at":"2024-02-29T12:00:00+00:00","exp":1709208060}', 36),
                "exp passed", now="2024-02-29T12:02:01+00:00"),
        invalid("exp not a number", sealed(b'{"email":"a@example.com","created_at":"2024-02-29T12:00:00+00:00",'
                                           b'"exp":"1709208900"}', 37), "exp is not"),
        invalid("exp true", sealed(b'{"email":"a@example.com","created_at":"2024-02-29T12:00:00+00:00","exp":true}',
                                   38), "exp is not"),
        invalid("aud of another app", sealed(b'{"email":"a@example.com","aud":"crm",'
                                             b'"created_at":"2024-02-29T12:00:00+00:00"}', 39),
                "audience", audience="invoices"),
        invalid("aud missing while an audience is required",
                sealed(claims("2024-02-29T12:00:00+00:00"), 40), "audience", audience="invoices"),
        invalid("aud a list", sealed(b'{"email":"a@example.com","aud":["invoices"],'
                                     b'"created_at":"2024-02-29T12:00:00+00:00"}', 41),
                "audience", audience="invoices"),
    ]
    for name, data in (("valid.json", valids), ("invalid.json", invalids)):
        (HERE / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
