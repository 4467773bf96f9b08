import pytest
import sqlalchemy as sa

from sso.multipass import MultipassCodec, MultipassVerifier, RedisReplayStore, ReplayedToken, SqlReplayStore


@pytest.mark.postgres
def test_sql_store_on_postgres_refuses_second_use(postgres_url: str) -> None:
    store = SqlReplayStore(sa.create_engine(postgres_url))
    store.create_table()
    verifier = MultipassVerifier("s", store)
    token = MultipassCodec("s").encode({"email": "a@example.com", "jti": "one"})
    assert verifier.verify(token)["email"] == "a@example.com"
    with pytest.raises(ReplayedToken):
        verifier.verify(token)
    store.engine.dispose()


@pytest.mark.redis
def test_redis_store_refuses_second_use(redis_url: str) -> None:
    import secrets

    verifier = MultipassVerifier("s", RedisReplayStore.from_url(redis_url, prefix=f"t:{secrets.token_hex(4)}:"))
    token = MultipassCodec("s").encode({"email": "a@example.com", "jti": "one"})
    verifier.verify(token)
    with pytest.raises(ReplayedToken):
        verifier.verify(token)
