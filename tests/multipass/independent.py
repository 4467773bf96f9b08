"""A second Multipass implementation, written from Shopify's public description of the wire format only.

It must never import :mod:`sso.multipass`: its whole point is to disagree with the module
under test whenever that module drifts from the wire format. It is deliberately plain and
permissive (no time checks, no length bound) and can also build tokens that the real codec
must refuse (bad padding, bad UTF-8) because it exposes the raw steps.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


class SpecError(Exception):
    """The independent implementation refuses a token."""


def keys(secret: str) -> tuple[bytes, bytes]:
    """(AES-128 key, HMAC-SHA256 key) from SHA-256 of the UTF-8 secret."""
    material = hashlib.sha256(secret.encode("utf-8")).digest()
    return material[:16], material[16:32]


def pkcs7(data: bytes) -> bytes:
    """PKCS#7 to a 16-byte block, written out by hand rather than borrowed."""
    n = 16 - len(data) % 16
    return data + bytes([n]) * n


def seal_padded(secret: str, padded: bytes, iv: bytes, *, strip: bool = False, mac_secret: str | None = None) -> str:
    """Encrypt already padded bytes and sign; ``mac_secret`` signs with another secret's MAC key."""
    assert len(iv) == 16 and len(padded) % 16 == 0
    aes_key, mac_key = keys(secret)
    if mac_secret is not None:
        mac_key = keys(mac_secret)[1]
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    body = iv + encryptor.update(padded) + encryptor.finalize()
    token = base64.urlsafe_b64encode(body + hmac.new(mac_key, body, hashlib.sha256).digest()).decode("ascii")
    return token.rstrip("=") if strip else token


def seal(secret: str, plaintext: bytes, iv: bytes | None = None, *, strip: bool = False) -> str:
    """Token for exact plaintext bytes."""
    return seal_padded(secret, pkcs7(plaintext), os.urandom(16) if iv is None else iv, strip=strip)


def encode(secret: str, claims: dict[str, Any], iv: bytes | None = None, *, strip: bool = False) -> str:
    """Token for a claims dict, compact JSON as Shopify's examples."""
    plaintext = json.dumps(claims, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return seal(secret, plaintext, iv, strip=strip)


def open_raw(secret: str, token: str) -> bytes:
    """Check the MAC, decrypt, unpad; return the plaintext bytes. Raises :class:`SpecError`."""
    aes_key, mac_key = keys(secret)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except ValueError as err:
        raise SpecError("not base64") from err
    if len(raw) < 64 or (len(raw) - 48) % 16:
        raise SpecError("bad length")
    body, mac = raw[:-32], raw[-32:]
    if not hmac.compare_digest(hmac.new(mac_key, body, hashlib.sha256).digest(), mac):
        raise SpecError("bad MAC")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(body[:16])).decryptor()
    padded = decryptor.update(body[16:]) + decryptor.finalize()
    n = padded[-1]
    if not 1 <= n <= 16 or padded[-n:] != bytes([n]) * n:
        raise SpecError("bad padding")
    return padded[:-n]


def decode(secret: str, token: str) -> dict[str, Any]:
    """Claims of a token (no time check)."""
    claims = json.loads(open_raw(secret, token).decode("utf-8"))
    if not isinstance(claims, dict):
        raise SpecError("not an object")
    return claims
