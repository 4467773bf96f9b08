"""Back-channel logout follows the hub session that ended: a logout in one browser reaches
the apps signed in from that browser only; "sign out everywhere", a password reset and a
deactivation (also inside a larger use case, after its commit) reach every app; a failing
app is tried again once; one slow app does not hold up the others."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import free_port
from tests.hub.oidc.conftest import LiveHub
from tests.hub.oidc.test_provider import discovery, exchange, start

Answer = Callable[[int], int]  # the n-th delivery (1-based) -> HTTP status


class Receiver:
    """An app's back-channel logout endpoint on loopback."""

    def __init__(self, answer: Answer = lambda _n: 200, meet: threading.Barrier | None = None) -> None:
        self.tokens: list[str] = []
        self.met: list[bool] = []  # per delivery: did it meet the other receivers' deliveries?
        self.answer, self.meet = answer, meet
        self.port = free_port()

        @Request.application
        def receive(request: Request) -> Response:
            self.tokens.append(request.form.get("logout_token", ""))
            if self.meet is not None:  # held until every receiver sharing the barrier has a delivery
                try:
                    self.meet.wait()
                    self.met.append(True)
                except threading.BrokenBarrierError:
                    self.met.append(False)
            return Response("", self.answer(len(self.tokens)))

        self.server = make_server("127.0.0.1", self.port, receive, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel"

    def close(self) -> None:
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(answer: Answer = lambda _n: 200, meet: threading.Barrier | None = None) -> Receiver:
        made.append(Receiver(answer, meet))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def _register(hub: LiveHub, slug: str, uri: str) -> None:
    from sso.base.db import db
    from sso.oidc.service import get_client

    with hub.app.app_context():  # type: ignore[attr-defined]
        get_client(slug).backchannel_logout_uri = uri
        db.session.commit()
        db.session.remove()


def _sid(hub: LiveHub, id_token: str) -> str:
    jwks = KeySet.import_key_set(httpx.get(discovery(hub)["jwks_uri"]).json())
    return str(jwt.decode(id_token, jwks).claims["sid"])


def _userinfo(hub: LiveHub, access_token: str) -> int:
    return httpx.get(hub.url + "/oidc/userinfo", headers={"Authorization": f"Bearer {access_token}"}).status_code


def test_logout_in_one_browser_leaves_the_other_signed_in(live_hub: LiveHub, receivers) -> None:  # type: ignore[no-untyped-def]
    app = receivers()
    _register(live_hub, "helpdesk", app.uri)
    laptop, phone = live_hub.browser(), live_hub.browser()
    on_laptop = exchange(live_hub, *start(live_hub, laptop))
    on_phone = exchange(live_hub, *start(live_hub, phone))
    laptop_sid, phone_sid = _sid(live_hub, on_laptop["id_token"]), _sid(live_hub, on_phone["id_token"])
    assert laptop_sid != phone_sid  # one sid per hub session
    assert laptop.post("/logout").status_code == 200
    assert len(app.tokens) == 1
    jwks = KeySet.import_key_set(httpx.get(discovery(live_hub)["jwks_uri"]).json())
    assert jwt.decode(app.tokens[0], jwks).claims["sid"] == laptop_sid
    assert _userinfo(live_hub, on_laptop["access_token"]) == 401
    assert _userinfo(live_hub, on_phone["access_token"]) == 200  # the phone's session goes on
    assert phone.get("/").status_code == 200 and "/login" not in phone.get("/").headers.get("location", "")


def test_rp_initiated_logout_ends_this_browsers_session_only(live_hub: LiveHub, receivers) -> None:  # type: ignore[no-untyped-def]
    from tests.hub.oidc.conftest import POST_LOGOUT

    app = receivers()
    _register(live_hub, "helpdesk", app.uri)
    laptop, phone = live_hub.browser(), live_hub.browser()
    on_laptop = exchange(live_hub, *start(live_hub, laptop))
    on_phone = exchange(live_hub, *start(live_hub, phone))
    response = laptop.get("/oidc/logout", params={"id_token_hint": on_laptop["id_token"],
                                                   "post_logout_redirect_uri": POST_LOGOUT, "client_id": "helpdesk"})
    assert response.status_code == 302 and response.headers["location"].startswith(POST_LOGOUT)
    assert len(app.tokens) == 1
    assert _userinfo(live_hub, on_phone["access_token"]) == 200
    code, verifier = start(live_hub, phone)  # still signed in at the hub on the phone
    assert exchange(live_hub, code, verifier)["access_token"]


def test_sign_out_everywhere_reaches_every_app_of_every_session(live_hub: LiveHub, receivers) -> None:  # type: ignore[no-untyped-def]
    app = receivers()
    _register(live_hub, "helpdesk", app.uri)
    laptop, phone = live_hub.browser(), live_hub.browser()
    tokens = [exchange(live_hub, *start(live_hub, laptop)), exchange(live_hub, *start(live_hub, phone))]
    response = laptop.post("/account/sessions/end-all")
    assert response.status_code == 302
    assert len(app.tokens) == 2
    assert all(_userinfo(live_hub, t["access_token"]) == 401 for t in tokens)


def test_deactivation_inside_a_larger_use_case_is_told_after_its_commit(live_hub: LiveHub, receivers) -> None:  # type: ignore[no-untyped-def]
    from sso.accounts.service import deactivate_user, find_user
    from sso.base.db import db, transaction

    app = receivers()
    _register(live_hub, "helpdesk", app.uri)
    token = exchange(live_hub, *start(live_hub, live_hub.browser()))
    with live_hub.app.app_context(), live_hub.app.test_request_context():  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError), transaction():
            deactivate_user(find_user("ann"))  # type: ignore[arg-type]
            raise RuntimeError("the larger use case fails")
        db.session.remove()
        assert app.tokens == []  # rolled back: nothing ended, nobody told
        assert find_user("ann").active  # type: ignore[union-attr]
        with transaction():
            deactivate_user(find_user("ann"))  # type: ignore[arg-type]
            assert app.tokens == []  # not before the commit
        db.session.remove()
    assert len(app.tokens) == 1
    assert _userinfo(live_hub, token["access_token"]) == 401


def test_a_failing_app_is_tried_again_once_and_a_refusal_is_not(live_hub: LiveHub, receivers) -> None:  # type: ignore[no-untyped-def]
    from sso.audit.models import AuditEvent
    from sso.base.db import db

    flaky = receivers(answer=lambda n: 503 if n == 1 else 200)
    _register(live_hub, "helpdesk", flaky.uri)
    browser = live_hub.browser()
    exchange(live_hub, *start(live_hub, browser))
    browser.post("/logout")
    assert len(flaky.tokens) == 2  # 503, then 200
    refusing = receivers(answer=lambda _n: 400)
    _register(live_hub, "helpdesk", refusing.uri)
    browser = live_hub.browser()
    exchange(live_hub, *start(live_hub, browser))
    browser.post("/logout")
    assert len(refusing.tokens) == 1
    with live_hub.app.app_context():  # type: ignore[attr-defined]
        events = db.session.scalars(db.select(AuditEvent).where(AuditEvent.event == "oidc_backchannel_logout")
                                    .order_by(AuditEvent.id)).all()
        assert [e.detail["delivered"] for e in events] == [True, False]
        db.session.remove()


def test_one_slow_app_does_not_hold_up_the_others(live_hub: LiveHub, receivers) -> None:  # type: ignore[no-untyped-def]
    from sso.oidc import service

    # Each app answers only once the other has its delivery too: sent side by side, both
    # meet; sent one after the other, the first gives up waiting (well within the hub's
    # timeout) and the second finds the barrier broken. No clock is read.
    meet = threading.Barrier(2, timeout=service.BACKCHANNEL_TIMEOUT / 2)
    first, second = receivers(meet=meet), receivers(meet=meet)
    _register(live_hub, "helpdesk", first.uri)
    _register(live_hub, "spa", second.uri)
    browser = live_hub.browser()
    exchange(live_hub, *start(live_hub, browser))
    exchange(live_hub, *start(live_hub, browser, client_id="spa"), client_id="spa")
    browser.post("/logout")
    assert len(first.tokens) == 1 and len(second.tokens) == 1
    assert first.met == second.met == [True]
