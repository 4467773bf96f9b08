"""Shopify-format Multipass tokens: encode and decode, nothing else.

Wire format (Shopify Multipass; docs/connecting-an-app.md)::

    key material = SHA-256(secret as UTF-8)
    AES-128 key  = key material[0:16]      HMAC-SHA256 key = key material[16:32]
    token        = urlsafe_b64(IV || AES-128-CBC(PKCS#7(JSON claims)) || HMAC(IV || ciphertext))

The MAC is checked, in constant time, before anything is decrypted. Every failure
raises :class:`InvalidToken` with one fixed message; the reason goes to the log.

Rotation: pass a list of secrets. The first one issues new tokens; every one of them
is tried when decoding. Put the new secret first and keep the previous one after it
until every connected app has switched.

This module is pure: no Flask, no database. Time comes in as ``now``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from .errors import ExpiredToken, InvalidToken

__all__ = ["DEFAULT_LEEWAY", "DEFAULT_MAX_AGE", "MAX_TOKEN_LENGTH", "MultipassCodec", "parse_created_at"]

log = logging.getLogger(__name__)

DEFAULT_MAX_AGE = 15 * 60  # seconds; Shopify's rule
DEFAULT_LEEWAY = 60  # seconds a created_at may lie in the future (clock skew)
MAX_TOKEN_LENGTH = 8192  # characters; checked before any other work

_IV_SIZE = 16
_MAC_SIZE = 32
_BLOCK = 16
_MIN_RAW = _IV_SIZE + _BLOCK + _MAC_SIZE
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]*={0,2}")
# Standard-alphabet characters mapped onto the URL-safe ones; "+" arrives as " " when a
# token was put in a query string without encoding; line breaks are dropped.
_DROP_AND_MAP = str.maketrans({"+": "-", "/": "_", " ": "-", "\n": None, "\r": None, "\t": None})

_PKCS7 = padding.PKCS7(128)  # stateless; makes a padder or unpadder per token

Secret = str | bytes
Now = datetime | float | int | None


@dataclass(frozen=True, slots=True, repr=False)  # no key material in reprs
class _Key:
    cipher: algorithms.AES  # built once per secret, not per token
    hmac_base: hmac.HMAC  # keyed HMAC-SHA256 state, copied per token (skips the key setup)

    @classmethod
    def from_secret(cls, secret: Secret) -> _Key:
        raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
        if not raw:
            raise ValueError("a Multipass secret must not be empty")
        material = hashlib.sha256(raw).digest()
        return cls(cipher=algorithms.AES(material[:16]), hmac_base=hmac.new(material[16:], digestmod="sha256"))

    def decrypt(self, iv: bytes, ciphertext: bytes) -> bytes:
        """AES-128-CBC decryption and PKCS#7 unpadding; :class:`ValueError` on bad padding.

        Only called once the MAC has been verified, so there is no padding oracle.
        """
        decryptor = Cipher(self.cipher, modes.CBC(iv)).decryptor()
        padded = decryptor.update(ciphertext) + decryptor.finalize()
        unpadder = _PKCS7.unpadder()
        try:
            return unpadder.update(padded) + unpadder.finalize()
        except ValueError as err:
            raise ValueError("bad padding") from err

    def sign(self, data: bytes) -> bytes:
        """HMAC-SHA256 of ``data`` under this key's MAC half."""
        state = self.hmac_base.copy()
        state.update(data)
        return state.digest()


def _as_datetime(now: Now) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if isinstance(now, datetime):
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(now), UTC)


def parse_created_at(value: object) -> datetime:
    """Read a ``created_at`` claim as an aware datetime.

    Accepts ISO 8601 with ``Z``, ``+hh:mm`` or ``-hh:mm``, with or without fractional
    seconds, and a naive time (read as UTC). Raises :class:`ValueError` otherwise.
    """
    parsed = _parse_iso(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_iso(value: object) -> datetime:
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        raise ValueError("created_at must be a short ISO 8601 string")
    return datetime.fromisoformat(value.strip())


def _b64decode(token: str | bytes) -> bytes:
    if not isinstance(token, (str, bytes)):
        raise ValueError("token is not a string")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ValueError("token is too long")
    if isinstance(token, bytes):
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError as err:
            raise ValueError("token is not ASCII, hence not base64") from err
    text = token
    if not _TOKEN_CHARS.fullmatch(text):  # the common case skips the (slow) translate
        # Line breaks (wrapped or pasted tokens) are dropped wherever they are. Spaces are not
        # stripped: a space is a "+" that a query string turned into one, even at either end.
        text = token.translate(_DROP_AND_MAP)
        if not _TOKEN_CHARS.fullmatch(text):
            raise ValueError("token has characters outside base64")
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as err:
        raise ValueError("token is not base64") from err


class MultipassCodec:
    """Issue and read Multipass tokens with one or more secrets.

    ``secrets`` is one secret or a list, newest first: the first issues, all decode.
    ``max_age`` and ``leeway`` (seconds) are the defaults for :meth:`decode`.
    """

    def __init__(
        self,
        secrets: Secret | Sequence[Secret],
        *,
        max_age: float = DEFAULT_MAX_AGE,
        leeway: float = DEFAULT_LEEWAY,
    ) -> None:
        if isinstance(secrets, (str, bytes, bytearray)):
            secrets = [secrets]
        keys = [_Key.from_secret(s) for s in secrets]
        if not keys:
            raise ValueError("MultipassCodec needs at least one secret")
        if max_age <= 0 or leeway < 0:
            raise ValueError("max_age must be positive and leeway not negative")
        self._keys = keys
        self._max_age = max_age
        self._leeway = leeway
        self._max_age_delta = timedelta(seconds=max_age)
        self._leeway_delta = timedelta(seconds=leeway)

    @property
    def max_age(self) -> float:
        """Default maximum age in seconds (read-only; pass ``max_age`` per call to override)."""
        return self._max_age

    @property
    def leeway(self) -> float:
        """Default seconds a ``created_at`` may lie ahead of ``now`` (read-only)."""
        return self._leeway

    # -- encoding -------------------------------------------------------------------

    def encode(self, claims: Mapping[str, Any], *, now: Now = None) -> str:
        """Return a token for ``claims``, adding ``created_at`` (UTC, explicit offset) if absent.

        Raises :class:`ValueError` for claims that cannot form a valid token.
        """
        body = dict(claims)
        created_at = body.get("created_at")
        if created_at is None:
            body["created_at"] = _as_datetime(now).isoformat(timespec="seconds")
        elif isinstance(created_at, datetime):
            body["created_at"] = _as_datetime(created_at).isoformat()
        else:
            parsed = _parse_iso(created_at)  # ValueError when unreadable
            if parsed.tzinfo is None:  # naive in, explicit offset out
                body["created_at"] = parsed.replace(tzinfo=UTC).isoformat()
        plaintext = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return self._encrypt_from_parts(plaintext.encode("utf-8"), os.urandom(_IV_SIZE))

    def _encrypt_from_parts(self, plaintext: bytes, iv: bytes) -> str:
        """Encrypt exact plaintext bytes under a given IV. Tests use it for known answers."""
        if len(iv) != _IV_SIZE:
            raise ValueError("the IV must be 16 bytes")
        key = self._keys[0]
        padder = _PKCS7.padder()
        padded = padder.update(plaintext) + padder.finalize()
        encryptor = Cipher(key.cipher, modes.CBC(iv)).encryptor()
        signed = iv + encryptor.update(padded) + encryptor.finalize()
        mac = key.sign(signed)
        return base64.urlsafe_b64encode(signed + mac).decode("ascii")

    # -- decoding -------------------------------------------------------------------

    def decode(
        self,
        token: str | bytes,
        *,
        max_age: float | None = None,
        leeway: float | None = None,
        now: Now = None,
        audience: str | None = None,
    ) -> dict[str, Any]:
        """Return the claims of a valid token, or raise :class:`InvalidToken`.

        Valid means: authentic under one of the secrets, a JSON object, a readable
        ``created_at`` no older than ``max_age`` and no more than ``leeway`` ahead of ``now``;
        an ``exp`` claim, when present, a number (epoch seconds) not more than ``leeway``
        behind ``now``; and, when ``audience`` is given, an ``aud`` claim equal to it (a
        token without ``aud`` is then refused too). Every refusal is the same
        :class:`InvalidToken` (:class:`ExpiredToken` for an expired one).
        """
        claims = self.decrypt(token)
        try:
            created_at = parse_created_at(claims.get("created_at"))
        except ValueError as err:
            log.info("Multipass token refused: missing or unreadable created_at")
            raise InvalidToken() from err
        moment = _as_datetime(now)
        self._check_age(created_at, moment, max_age, leeway)
        if "exp" in claims:
            self._check_exp(claims["exp"], moment, leeway)
        if audience is not None:
            aud = claims.get("aud")
            if not isinstance(aud, str) or not hmac.compare_digest(aud.encode("utf-8"), audience.encode("utf-8")):
                log.info("Multipass token refused: audience %r is not %r", aud, audience)
                raise InvalidToken()
        return claims

    def decrypt(self, token: str | bytes) -> dict[str, Any]:
        """Authenticate and decrypt ``token`` without any time check. Raises :class:`InvalidToken`."""
        try:
            raw = _b64decode(token)
        except ValueError as err:
            log.info("Multipass token refused: %s", err)
            raise InvalidToken() from err
        if len(raw) < _MIN_RAW or (len(raw) - _IV_SIZE - _MAC_SIZE) % _BLOCK:
            log.info("Multipass token refused: wrong length (%d bytes)", len(raw))
            raise InvalidToken()
        signed, mac = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
        key = self._key_for(signed, mac)
        if key is None:
            log.info("Multipass token refused: MAC does not match any secret")
            raise InvalidToken()
        try:
            return _decrypt_authenticated(key, signed)
        except (ValueError, RecursionError) as err:
            # Reachable only with a valid MAC, i.e. from whoever holds the secret.
            log.warning("Multipass token refused after a valid MAC: %s", err)
            raise InvalidToken() from err

    def _key_for(self, signed: bytes, mac: bytes) -> _Key | None:
        found = None
        for key in self._keys:  # try every key so the time does not depend on which matched
            if hmac.compare_digest(key.sign(signed), mac) and found is None:
                found = key
        return found

    def _check_age(
        self, created_at: datetime, now: datetime, max_age: float | None, leeway: float | None
    ) -> None:
        oldest = self._max_age_delta if max_age is None else timedelta(seconds=max_age)
        ahead = self._leeway_delta if leeway is None else timedelta(seconds=leeway)
        age = now - created_at
        if age > oldest:
            log.info("Multipass token refused: expired %s ago", age - oldest)
            raise ExpiredToken()
        if -age > ahead:
            log.info("Multipass token refused: created_at %s in the future", -age)
            raise InvalidToken()

    def _check_exp(self, exp: object, now: datetime, leeway: float | None) -> None:
        if isinstance(exp, bool) or not isinstance(exp, (int, float)) or exp != exp or abs(exp) > 1e11:
            log.info("Multipass token refused: exp is not a number of epoch seconds")
            raise InvalidToken()
        ahead = self._leeway if leeway is None else leeway
        late = now.timestamp() - float(exp)
        if late > ahead:
            log.info("Multipass token refused: exp passed %.0f s ago", late)
            raise ExpiredToken()


def _reject_constant(name: str) -> Any:
    raise ValueError(f"claims are not JSON: {name} is not a JSON value")


# Built once: json.loads(..., parse_constant=...) would build a decoder per call.
_JSON_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def _decrypt_authenticated(key: _Key, signed: bytes) -> dict[str, Any]:
    plaintext = key.decrypt(signed[:_IV_SIZE], signed[_IV_SIZE:])
    try:
        text = plaintext.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ValueError("claims are not UTF-8") from err
    try:
        claims = _JSON_DECODER.decode(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"claims are not JSON ({err.msg} at {err.pos})") from err
    if not isinstance(claims, dict):
        raise ValueError("claims are not a JSON object")
    return claims
