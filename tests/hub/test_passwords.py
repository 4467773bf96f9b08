"""argon2id parameters and the dummy hash."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from argon2.exceptions import VerifyMismatchError
from argon2.low_level import Type

from sso.accounts.passwords import DUMMY_HASH, PRODUCTION_PARAMETERS, make_hasher
from tests.conftest import PLUGINS


def test_production_parameters_meet_owasp_minimum() -> None:
    hasher = make_hasher(fast=False)
    assert hasher.type is Type.ID
    assert hasher.memory_cost >= 19456
    assert hasher.time_cost == 2
    assert hasher.parallelism == 1
    assert hasher.hash("x").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_dummy_hash_has_production_cost_and_matches_nothing() -> None:
    assert DUMMY_HASH.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    with pytest.raises(VerifyMismatchError):
        PasswordHasher().verify(DUMMY_HASH, "")
    assert PRODUCTION_PARAMETERS == {"time_cost": 2, "memory_cost": 19456, "parallelism": 1}


def test_production_config_uses_production_hasher(app) -> None:  # type: ignore[no-untyped-def]
    from sso import create_app

    cfg = {k: v for k, v in app.config.items() if k in {"SQLALCHEMY_DATABASE_URI", "SECRET_KEY", "APP_SECRETS_KEYS"}}
    prod = create_app({**cfg, "INSTANCE_PATH": app.instance_path}, plugins=PLUGINS)
    from sso.base.context import hub_state

    hasher, dummy = hub_state(prod).features["accounts.passwords"]
    assert hasher.memory_cost == 19456 and hasher.time_cost == 2 and hasher.parallelism == 1
    assert dummy == DUMMY_HASH
