"""Shopify-format Multipass tokens: a pure codec, a verifier and replay stores.

Importing this package loads no web framework and no database driver: the SQL and Redis
stores import SQLAlchemy or redis themselves when they are built or used.

>>> codec = MultipassCodec(["new secret", "previous secret"])   # first one issues
>>> claims = codec.decode(codec.encode({"email": "ann@example.com", "login": "ann"}))
"""

from .codec import DEFAULT_LEEWAY, DEFAULT_MAX_AGE, MAX_TOKEN_LENGTH, MultipassCodec, parse_created_at
from .errors import ExpiredToken, InvalidToken, MultipassError, ReplayedToken, ReplayStoreError
from .replay import MemoryReplayStore, RedisReplayStore, ReplayStore, SqlReplayStore, used_tokens_table
from .verifier import MultipassVerifier

__all__ = [
    "DEFAULT_LEEWAY",
    "DEFAULT_MAX_AGE",
    "MAX_TOKEN_LENGTH",
    "ExpiredToken",
    "InvalidToken",
    "MemoryReplayStore",
    "MultipassCodec",
    "MultipassError",
    "MultipassVerifier",
    "RedisReplayStore",
    "ReplayStore",
    "ReplayStoreError",
    "ReplayedToken",
    "SqlReplayStore",
    "parse_created_at",
    "used_tokens_table",
]
