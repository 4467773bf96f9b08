"""Checked-in known-answer vectors (made by the independent implementation) against the codec."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from sso.multipass import InvalidToken, MultipassCodec
from sso.multipass.errors import GENERIC_MESSAGE

VECTORS = Path(__file__).with_name("vectors")
VALID: list[dict[str, Any]] = json.loads((VECTORS / "valid.json").read_text(encoding="utf-8"))
INVALID: list[dict[str, Any]] = json.loads((VECTORS / "invalid.json").read_text(encoding="utf-8"))


def test_vector_files_cover_the_brief() -> None:
    assert len(VALID) >= 8 and len(INVALID) >= 20
    assert any(v["token"].startswith("AAECAwQFBgcICQoLDA0OD5wv") for v in VALID)
    reasons = {v["reason"] for v in INVALID}
    assert {"base64", "length", "too long", "MAC", "padding", "UTF-8", "JSON", "object",
            "created_at", "expired", "future", "exp passed", "exp is not", "audience"} <= reasons


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_decodes(vector: dict[str, Any]) -> None:
    codec = MultipassCodec(vector.get("codec_secrets") or vector["secret"])
    assert codec.decode(vector["token"], now=_now(vector), audience=vector.get("audience")) == vector["claims"]


@pytest.mark.parametrize("vector", VALID, ids=[v["name"] for v in VALID])
def test_valid_vector_is_reproduced_byte_for_byte(vector: dict[str, Any]) -> None:
    """Given the same IV and plaintext bytes, our encryption is the wire format exactly."""
    codec = MultipassCodec(vector["secret"])
    token = codec._encrypt_from_parts(vector["plaintext"].encode("utf-8"), bytes.fromhex(vector["iv"]))
    assert token.rstrip("=") == vector["token"].rstrip("=")
    assert token.endswith("=") or len(token) % 4 == 0  # we always emit the padding


@pytest.mark.parametrize("vector", INVALID, ids=[v["name"] for v in INVALID])
def test_invalid_vector_is_refused_with_one_generic_message(
    vector: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    codec = MultipassCodec(vector["secret"])
    caplog.set_level(logging.INFO, logger="sso.multipass")
    with pytest.raises(InvalidToken) as info:  # anything but InvalidToken fails the test
        codec.decode(vector["token"], now=_now(vector), audience=vector.get("audience"))
    assert str(info.value) == GENERIC_MESSAGE
    messages = [r.getMessage() for r in caplog.records if r.name.startswith("sso.multipass")]
    assert len(messages) == 1, messages
    assert vector["reason"].lower() in messages[0].lower(), messages[0]
    assert vector["secret"] not in caplog.text


def test_every_invalid_vector_gives_the_same_text() -> None:
    texts = set()
    for vector in INVALID:
        with pytest.raises(InvalidToken) as info:
            MultipassCodec(vector["secret"]).decode(vector["token"], now=_now(vector), audience=vector.get("audience"))
        texts.add((str(info.value), info.value.args))
    assert len(texts) == 1


def _now(vector: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(vector["now"])
