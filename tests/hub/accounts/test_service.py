"""Account service: uniqueness, set-password links, CSV import."""

from __future__ import annotations

import io
import threading

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from sso.accounts.models import User
from sso.accounts.service import (
    InvalidSetPasswordLink,
    LoginFailed,
    authenticate,
    check_set_password_token,
    create_user,
    find_user,
    import_users_csv,
    make_set_password_token,
    search_users,
    update_user,
    use_set_password_token,
)
from sso.base.db import db
from sso.base.errors import ValidationError
from sso.base.identity import normalize_key

BOTH = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def test_normalize_key() -> None:
    assert normalize_key("  Ann ") == normalize_key("ANN") == "ann"
    assert normalize_key("Stra\u00dfe") == normalize_key("STRASSE")
    assert normalize_key("e\u0301") == normalize_key("\u00e9")


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_case_insensitive_uniqueness(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        with pytest.raises(ValidationError, match="login"):
            create_user("ANN", "new@example.com")
        with pytest.raises(ValidationError, match="e-mail"):
            create_user("new", " ANN@example.COM ")
        user = create_user("Zoe", "Zoe@Example.com", "Zoe Z")
        assert (user.login, user.email) == ("Zoe", "Zoe@Example.com")  # raw values kept
        assert find_user("zoe@example.com").id == user.id
        with pytest.raises(ValidationError):
            update_user(user, login="ann")
        assert update_user(user, name="Zoë") == {"name": ["Zoe Z", "Zoë"]}


@pytest.mark.parametrize("value", ["", "with space", "a" * 65, "tab\tlogin", "nul\x00"])
def test_bad_logins(app, value: str) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), pytest.raises(ValidationError):
        create_user(value, "x@example.com")


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_longest_keys_fit_their_columns(app) -> None:  # type: ignore[no-untyped-def]
    """Case folding can triple a value's length ("\ufb03" folds to "ffi"): the longest login
    is stored, an e-mail whose key would overflow its column is refused with a message."""
    with app.app_context():
        login = "\ufb03" * 64
        user = create_user(login, "ffi@example.com")
        assert find_user("FFI" * 64).id == user.id
        with pytest.raises(ValidationError, match="too long"):
            create_user("long", "\ufb03" * 200 + "@example.com")


def test_user_without_password_cannot_log_in(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        create_user("nopw", "nopw@example.com")
        with pytest.raises(LoginFailed):
            authenticate("nopw", "")


def test_set_password_link_is_single_use(app, client) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        user = create_user("new", "new@example.com")
        token = make_set_password_token(user)
    page = client.get(f"/set-password/{token}")
    assert page.status_code == 200 and b"new@example.com" in page.data
    mismatch = client.post(f"/set-password/{token}", data={"password": "long-enough-1", "confirm": "other-one-11"})
    assert mismatch.status_code == 400
    done = client.post(f"/set-password/{token}", data={"password": "long-enough-1", "confirm": "long-enough-1"})
    assert done.status_code == 302
    again = client.get(f"/set-password/{token}")
    assert again.status_code == 400 and b"already used" in again.data
    with app.app_context():
        assert authenticate("new", "long-enough-1").login == "new"
        with pytest.raises(InvalidSetPasswordLink):
            use_set_password_token(token, "another-password")


def test_set_password_link_expires_and_is_signed(app, clock) -> None:  # type: ignore[no-untyped-def]
    app.config["SET_PASSWORD_MAX_AGE"] = 3600
    with app.app_context():
        user = create_user("new", "new@example.com")
        token = make_set_password_token(user)
        clock.advance(3600)
        assert check_set_password_token(token).id == user.id  # an hour old: still valid
        clock.advance(2)
        with pytest.raises(InvalidSetPasswordLink):
            check_set_password_token(token)
        app.config["SET_PASSWORD_MAX_AGE"] = 7200
        assert check_set_password_token(token).id == user.id
        forged = URLSafeTimedSerializer("wrong-key", salt="sso.set-password").dumps({"u": user.id, "b": "x"})
        for bad in (forged, token[:-2] + "xx", "", "a.b.c"):
            with pytest.raises(InvalidSetPasswordLink):
                check_set_password_token(bad)


def test_bad_set_password_links_are_400(client) -> None:  # type: ignore[no-untyped-def]
    for token in ("garbage", "x" * 3000, "%00"):
        assert client.get(f"/set-password/{token}").status_code == 400


def test_search_users(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        for i in range(12):
            create_user(f"user{i:02d}", f"user{i:02d}@example.com", f"Person {i}")
        found = search_users("USER0", 1, 5)
        users, total = found.items, found.total
        assert total == 10 and len(users) == 5
        assert search_users("100%", 1, 5).total == 0
        assert search_users("person 11", 1, 5).total == 1


# -- CSV import ---------------------------------------------------------------------------


def test_import_is_idempotent_and_reports_clashes(app) -> None:  # type: ignore[no-untyped-def]
    csv_text = (
        "login,email,name\n"
        "dora,dora@example.com,Dora D\n"
        "ANN,ann@example.com,already there\n"
        "ann,other@example.com,clash on login\n"
        "newbie,ADMIN@example.com,clash on e-mail\n"
        "dora,dora2@example.com,duplicate in file\n"
        "bad login,x@example.com,\n"
        "frank,not-an-email,\n"
        " gus ,Gus@Example.com,\n"
    )
    with app.app_context():
        first = import_users_csv(io.StringIO(csv_text))
        assert (first.created, first.unchanged) == (2, 1)
        assert [line for line, _ in first.errors] == [4, 5, 6, 7, 8]
        second = import_users_csv(io.StringIO(csv_text))
        assert (second.created, second.unchanged) == (0, 3)
        gus = find_user("gus")
        assert gus.login == "gus" and gus.password_hash is None and gus.active
        assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 4


def test_import_needs_a_header(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context(), pytest.raises(ValidationError):
        import_users_csv(io.StringIO("dora,dora@example.com\n"))


def test_import_bytes_with_bom(app) -> None:  # type: ignore[no-untyped-def]
    data = "\ufefflogin,email,name\nélodie,elodie@example.com,Élodie\n".encode()
    with app.app_context():
        assert import_users_csv(io.BytesIO(data)).created == 1
        assert find_user("ÉLODIE").name == "Élodie"


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_import_of_many_rows_is_idempotent(app, db_backend: str) -> None:  # type: ignore[no-untyped-def]
    """Several bulk chunks (the speed of 100,000 rows is measured in bench/bench_accounts.py)."""
    rows = ["login,email,name"] + [f"user{i},user{i}@example.com,User {i}" for i in range(12_000)]
    text = "\n".join(rows) + "\n"
    with app.app_context():
        result = import_users_csv(io.StringIO(text))
        assert result.created == 12_000 and not result.errors
        again = import_users_csv(io.StringIO(text))
        assert again.unchanged == 12_000 and again.created == 0
        assert find_user("user11999@example.com").name == "User 11999"


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_a_login_may_not_be_another_users_email_nor_the_other_way(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        with pytest.raises(ValidationError, match="another user's e-mail"):
            create_user("ANN@example.com", "mallory@example.com")
        # An e-mail equal to a login that looks like one:
        create_user("bob@example.com", "bob@corp.example")
        with pytest.raises(ValidationError, match="another user's login"):
            create_user("mallory", "BOB@example.com")
        zoe = create_user("zoe", "zoe@example.com")
        with pytest.raises(ValidationError, match="another user's e-mail"):
            update_user(zoe, login="ann@example.com")
        with pytest.raises(ValidationError, match="another user's login"):
            update_user(zoe, email="bob@example.com")
        # A user's own login may equal their own e-mail.
        update_user(zoe, login="zoe@example.com")
        assert find_user("zoe@example.com").id == zoe.id
        # Everyone can still log in with both names.
        for name in ("ann", "ann@example.com", "bob@example.com", "bob@corp.example"):
            assert find_user(name) is not None


@pytest.mark.parametrize("db_backend", BOTH, indirect=True)
def test_two_creations_at_once_cannot_both_take_one_name(app, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """One admin creates login ``pat@example.com`` while another creates a user whose e-mail
    is ``pat@example.com``. No unique index sees that clash, so each check is held until the
    other has checked too (if it can): both passing their check must not be possible."""
    from sso.accounts import service

    both_checked = threading.Barrier(2, timeout=2)
    real_check = service._check_unique

    def check_then_wait(*args, **kwargs):  # type: ignore[no-untyped-def]
        real_check(*args, **kwargs)
        try:
            both_checked.wait()  # without the lock both threads get here before either writes
        except threading.BrokenBarrierError:
            pass  # the other one is waiting for the lock: go on and write

    monkeypatch.setattr(service, "_check_unique", check_then_wait)
    outcomes: dict[str, str] = {}
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(User))

    def create(who: str, login: str, email: str) -> None:
        with app.app_context():
            try:
                create_user(login, email)
                outcomes[who] = "created"
            except ValidationError as err:
                outcomes[who] = err.message

    threads = [
        threading.Thread(target=create, args=("first", "pat@example.com", "pat.one@example.com")),
        threading.Thread(target=create, args=("second", "pat", "pat@example.com")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["first", "second"]
    assert list(outcomes.values()).count("created") == 1, outcomes
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == before + 1


def test_import_refuses_logins_and_emails_of_other_users_both_ways(app) -> None:  # type: ignore[no-untyped-def]
    with app.app_context():
        create_user("carl@example.com", "carl@corp.example")
        csv_text = (
            "login,email\n"
            "ann@example.com,mallory@example.com\n"  # login = ann's e-mail
            "mallory,CARL@example.com\n"  # e-mail = carl's login
            "dora,dora@example.com\n"
            "dora@example.com,dora2@example.com\n"  # login = e-mail of a row above
            "eve@example.com,eve@example.com\n"  # own login = own e-mail: fine
        )
        result = import_users_csv(io.StringIO(csv_text))
        assert result.created == 2
        assert [line for line, _ in result.errors] == [2, 3, 5]
        assert "another user's e-mail" in result.errors[0][1]
        assert "another user's login" in result.errors[1][1]
