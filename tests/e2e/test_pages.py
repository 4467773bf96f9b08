"""Every hub page at 1280x800 and 390x844, as a visitor, a user and an admin.

For each page in :data:`PAGES` and each of its roles, at both sizes:

* the page does not scroll sideways (``document.documentElement.scrollWidth <= innerWidth``);
* axe-core (tests/e2e/node_modules, ``npm ci --prefix tests/e2e``) finds no serious or
  critical accessibility violation;
* a full-page screenshot is kept in ``test-artifacts/screenshots/pages/<page>-<role>-<width>.png``.

**Adding a page is one line in PAGES**: a :class:`Visit` with a name, the roles that see it
and either its path or a function that opens it (see the docstring of :class:`Visit`).
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from examples.stack import Stack
from tests.conftest import unavailable

from .conftest import SCREENSHOTS

pytestmark = pytest.mark.browser

AXE = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
PAGE_SHOTS = SCREENSHOTS / "pages"
AXE_RESULTS = SCREENSHOTS.parent / "axe"  # every violation found, any impact, one JSON file per page
VIEWPORTS = {"1280": {"width": 1280, "height": 800}, "390": {"width": 390, "height": 844}}
#: Logins of the demo stack (examples/stack.py HUB_USERS) for each role; "anonymous" logs in as nobody.
ROLE_LOGINS = {"anonymous": None, "user": "ann", "admin": "admin"}
ANYONE = ("anonymous", "user", "admin")
SIGNED_IN = ("user", "admin")
ADMIN = ("admin",)
BLOCKING = {"serious", "critical"}

Page = Any  # playwright.sync_api.Page (imported lazily: the browser fixture skips without chromium)


@dataclass(frozen=True)
class Visit:
    """One page to check.

    ``path`` is a hub path to open with GET; ``open(page, stack)`` instead reaches the page
    by what a person does (filling a form, clicking a button) and may return a path to open
    next. ``status`` is the HTTP status the main document must have (checked for ``path``
    visits); ``heading`` a text the page's ``h1`` must contain.
    """

    name: str
    roles: tuple[str, ...]
    path: str | None = None
    open: Callable[[Page, Stack], str | None] | None = None
    status: int = 200
    heading: str | None = None


# -- ways to reach pages that need more than a GET ------------------------------------------------


def _unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


def _user_edit_path(page: Page, stack: Stack, login: str = "ann") -> str:
    page.goto(f"{stack.hub_url}/admin/users/?q={login}")
    href = page.locator("table a", has_text=re.compile(f"^{login}$")).first.get_attribute("href")
    assert href, f"no edit link for {login}"
    return str(href)


def _user_deactivate_confirm(page: Page, stack: Stack) -> str:
    return _user_edit_path(page, stack, "erin") + "/deactivate"  # the GET confirm step: nothing changes


def _user_created(page: Page, stack: Stack) -> None:
    """Add a user through the form: the page with their set-password link."""
    page.goto(f"{stack.hub_url}/admin/users/new")
    login = _unique("shot")
    page.fill("input[name=login]", login)
    page.fill("input[name=email]", f"{login}@example.com")
    page.click("form button[type=submit]:has-text('Save')")
    page.wait_for_selector("input.secret")


def _user_form_errors(page: Page, stack: Stack) -> None:
    """The add-user form sent with a taken login and a bad e-mail: errors at their fields."""
    page.goto(f"{stack.hub_url}/admin/users/new")
    page.fill("input[name=login]", "ann")
    page.fill("input[name=email]", "not-an-address")
    page.click("form button[type=submit]:has-text('Save')")
    page.wait_for_selector(".field-error")


def _app_secret_shown(page: Page, stack: Stack) -> None:
    """Add a connected app with a generated secret: the one page that shows it."""
    slug = _unique("shot")
    page.goto(f"{stack.hub_url}/admin/apps/new")
    page.fill("input[name=slug]", slug)
    page.fill("input[name=name]", "Screenshot app")
    page.fill("input[name=login_url_template]", "https://shots.example/login/multipass/{token}")
    page.fill("textarea[name=allowed_origins]", "https://shots.example")
    page.uncheck("input[name=enabled]")  # keeps it out of everybody's menu
    page.click("form button[type=submit]:has-text('Save')")
    page.wait_for_selector("#secret")


def _set_password(page: Page, stack: Stack) -> str:
    """A set-password link of a new user, made with the CLI as IT would."""
    login = _unique("setpw")
    out = stack._run(["--app", "wsgi", "users", "create", login, f"{login}@example.com"], stack.hub_env())
    match = re.search(r"(/set-password/\S+)", out)
    assert match, out
    return match.group(1)


def _signed_out(page: Page, stack: Stack) -> None:
    """Log in as dave (his own sessions end, nobody else's) and log out."""
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, "dave", stack.password)
    if page.locator("label[for=menu-toggle]").is_visible():  # the folded menu at 390 px
        page.click("label[for=menu-toggle]")
    page.click("header button:has-text('Log out')")
    page.wait_for_selector("h1:has-text('You are signed out')")


def _too_many_attempts(page: Page, stack: Stack) -> None:
    """Wrong passwords for one account until the throttle answers (the default limit is five
    a minute; a sixth try may get through as the first failures start to fade, eleven never do)."""
    page.goto(f"{stack.hub_url}/login")
    probe = _unique("probe")
    for _ in range(11):
        _fill_login(page, probe, "wrong-password")
        if page.title().startswith("Too many attempts"):
            break
    assert page.title().startswith("Too many attempts"), page.title()


def _totp_code(page: Page) -> str:
    import pyotp

    secret = page.locator("code.secret-key").text_content() or ""
    return str(pyotp.TOTP(secret.strip()).now())


def _enrol_totp(page: Page, stack: Stack, login: str) -> None:
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, login, stack.password)
    page.goto(f"{stack.hub_url}/account/totp")
    page.fill("input[name=code]", _totp_code(page))
    page.click("form button[type=submit]:has-text('Turn on')")
    page.wait_for_selector("h1:has-text('Your recovery codes')")


def _new_login(page: Page, stack: Stack) -> str:
    """A new user, made with the CLI, who chose their password: signed out, ready to log in."""
    page.context.clear_cookies()
    login = _unique("mfa")
    out = stack._run(["--app", "wsgi", "users", "create", login, f"{login}@example.com"], stack.hub_env())
    match = re.search(r"(/set-password/\S+)", out)
    assert match, out
    page.goto(stack.hub_url + match.group(1))
    page.fill("input[name=password]", stack.password)
    page.fill("input[name=confirm]", stack.password)
    page.click("form button[type=submit]:has-text('Set password')")
    page.wait_for_load_state()
    page.context.clear_cookies()
    return login


def _recovery_codes(page: Page, stack: Stack) -> None:
    """A new user turns on an authenticator app: the page with their recovery codes."""
    _enrol_totp(page, stack, _new_login(page, stack))


def _second_step(page: Page, stack: Stack) -> None:
    """A user with an authenticator app logs in: the second step asks for a code."""
    login = _new_login(page, stack)
    _enrol_totp(page, stack, login)
    page.context.clear_cookies()
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, login, stack.password)
    page.wait_for_selector("h1:has-text('One more step')")


def _set_mfa_policy(page: Page, stack: Stack, required: str) -> None:
    page.goto(f"{stack.hub_url}/admin/users/second-factor")
    page.check(f"input[name=required][value={required}]")
    page.click("main form button[type=submit]:has-text('Save')")
    page.wait_for_selector("#policy-now")


def _enrol_at_login(page: Page, stack: Stack) -> None:
    """While everyone must use a second factor, a new user without one logs in: "Protect your
    account". The policy is set and put back by an admin in another browser."""
    login = _new_login(page, stack)
    admin = page.context.browser.new_context()
    try:
        admin_page = admin.new_page()
        admin_page.goto(f"{stack.hub_url}/login")
        _fill_login(admin_page, "admin", stack.password)
        _set_mfa_policy(admin_page, stack, "everyone")
        try:
            page.goto(f"{stack.hub_url}/login")
            _fill_login(page, login, stack.password)
            page.wait_for_selector("h1:has-text('Protect your account')")
        finally:
            _set_mfa_policy(admin_page, stack, "none")
    finally:
        admin.close()


def _new_group(page: Page, stack: Stack) -> str:
    page.goto(f"{stack.hub_url}/admin/groups/")
    page.fill("input[name=name]", _unique("Team"))
    page.click("form button[type=submit]:has-text('Create group')")
    page.wait_for_selector("h1:has-text('Group ')")
    return str(page.url).removeprefix(stack.hub_url)


def _group_page(page: Page, stack: Stack) -> None:
    _new_group(page, stack)


def _group_delete_confirm(page: Page, stack: Stack) -> str:
    return _new_group(page, stack) + "/delete"


def _new_app(page: Page, stack: Stack) -> str:
    """A disabled connected app with a generated secret; returns its slug."""
    _app_secret_shown(page, stack)
    return str(page.url).split("/admin/apps/")[1].split("/")[0]


def _stage_secret(page: Page, stack: Stack) -> str:
    slug = _new_app(page, stack)
    page.goto(f"{stack.hub_url}/admin/apps/{slug}")
    page.click("form button[type=submit]:has-text('Stage new secret')")
    page.wait_for_selector("#secret")
    return slug


def _staged_secret_shown(page: Page, stack: Stack) -> None:
    """The page that shows a staged secret, once."""
    _stage_secret(page, stack)


def _rotation_staged(page: Page, stack: Stack) -> str:
    """The app page between staging and activating: step 2 is the current one."""
    return f"/admin/apps/{_stage_secret(page, stack)}"


def _rotation_retire(page: Page, stack: Stack) -> str:
    """The app page after activating the staged secret: step 3 (retire) is the current one."""
    slug = _stage_secret(page, stack)
    page.goto(f"{stack.hub_url}/admin/apps/{slug}")
    page.check("#step-activate input[type=checkbox]")
    page.click("#step-activate button[type=submit]")
    page.wait_for_load_state()
    return f"/admin/apps/{slug}"


def _pairing_link(page: Page, stack: Stack, selector: str) -> str:
    """The first link matching ``selector`` on the pairing page (any status filter) that opens a
    confirm page: what other tests fixed already sends back to the list instead."""
    page.goto(f"{stack.hub_url}/admin/pairing/invoices")
    lists = ["/admin/pairing/invoices"]
    lists += [str(a.get_attribute("href")) for a in page.locator("a[href*='status=']").all()]
    for listing in lists:
        page.goto(stack.hub_url + listing)
        for href in [str(a.get_attribute("href")) for a in page.locator(selector).all()]:
            page.goto(stack.hub_url + href)
            if "please confirm" in page.locator("h1").first.inner_text():
                return href
            page.goto(stack.hub_url + listing)
    raise AssertionError(f"no {selector} on the pairing page opens a confirm page")


def _pairing_fix_confirm(page: Page, stack: Stack) -> str:
    return _pairing_link(page, stack, "a.fix-link")


def _pairing_bulk_confirm(page: Page, stack: Stack) -> str:
    return _pairing_link(page, stack, "a.bulk-fix")


def _new_oidc_app(page: Page, stack: Stack) -> str:
    """A third-party OpenID Connect app added through the admin form; the page then shows its secret."""
    slug = _unique("oidc")
    page.goto(f"{stack.hub_url}/admin/oidc/new")
    page.fill("input[name=slug]", slug)
    page.fill("input[name=name]", "Partner portal")
    page.fill("textarea[name=redirect_uris]", "https://partner.example/callback")
    page.check("input[name=third_party]")
    page.click("form button[type=submit]:has-text('Save')")
    page.wait_for_selector("h1:has-text('Client secret for')")
    return slug


def _oidc_secret_shown(page: Page, stack: Stack) -> None:
    _new_oidc_app(page, stack)


def _oidc_logged_out(page: Page, stack: Stack) -> None:
    """A new user confirms the logout an app asked for."""
    login = _new_login(page, stack)
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, login, stack.password)
    page.goto(f"{stack.hub_url}/oidc/logout")
    page.click("main form button[type=submit]:has-text('Log out')")
    page.wait_for_selector("h1:has-text('You are logged out')")


def _forgot_sent(page: Page, stack: Stack) -> None:
    """The answer to the forgot-password form (the demo hub sends no mail)."""
    page.goto(f"{stack.hub_url}/forgot-password")
    page.fill("input[name=email]", "nobody@example.com")
    page.click("form button[type=submit]:has-text('Send the link')")
    page.wait_for_load_state()


def _consent(page: Page, stack: Stack) -> str:
    """A third-party OpenID Connect app asks to sign the admin in: the consent page."""
    import base64
    import hashlib
    from urllib.parse import urlencode

    slug = _new_oidc_app(page, stack)
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({
        "client_id": slug, "response_type": "code", "redirect_uri": "https://partner.example/callback",
        "scope": "openid profile email", "state": "s", "nonce": "n",
        "code_challenge": challenge, "code_challenge_method": "S256",
    })
    return f"/oidc/authorize?{query}"


def _csv_pairing_app(page: Page, stack: Stack, rows: list[tuple[str, str, str]]) -> str:
    """A disabled connected app whose directory is an uploaded CSV file of ``rows`` (login, e-mail,
    name), its snapshot taken: pairing trouble made to order, away from the invoicing app's counts."""
    slug = _new_app(page, stack)
    hub = stack.hub_env()
    stack._run(["--app", "wsgi", "pairing", "set-directory", slug, "--type", "csv"], hub)
    csv_file = stack.workdir / f"{slug}.csv"
    csv_file.write_text("login,email,name\n" + "".join(f"{login},{email},{name}\n" for login, email, name in rows))
    stack._run(["--app", "wsgi", "pairing", "refresh", slug, "--file", str(csv_file)], hub)
    return slug


def _pairing_compare(page: Page, stack: Stack) -> str:
    """A hub user whose login names one app user and whose e-mail names another: a conflict,
    opened with its "Compare" button."""
    login = _unique("gina")
    stack._run(["--app", "wsgi", "users", "create", login, f"{login}@example.com"], stack.hub_env())
    slug = _csv_pairing_app(page, stack, [
        (login, f"{login}@elsewhere.example", "Gina Old"), (f"{login}-2", f"{login}@example.com", "Gina New"),
    ])
    page.goto(f"{stack.hub_url}/admin/pairing/{slug}?status=conflict")
    href = page.locator("a.button:has-text('Compare')").first.get_attribute("href")
    assert href, "no Compare button on the conflicts"
    return str(href)


def _pairing_created_in_hub(page: Page, stack: Stack) -> None:
    """A user only the app has, created in the hub from the pairing page: the set-password link."""
    login = _unique("hal")
    slug = _csv_pairing_app(page, stack, [(login, f"{login}@example.com", "Hal Hollis")])
    page.goto(f"{stack.hub_url}/admin/pairing/{slug}?status=missing_in_hub")
    page.click("form button[type=submit]:has-text('Create in hub')")
    page.wait_for_selector("input.set-password-link")


def _pairing_department_confirm(page: Page, stack: Stack) -> None:
    """ann is in a department in the invoicing app, not in the hub's group of that name:
    "Fix departments…" shows what each fix would change (nothing changes yet). The mismatch
    is made on the app's side: a hub-side membership would be provisioned to the app at once
    by the demo's worker, and there would be nothing left to fix."""
    import httpx

    name = _unique("Finance")
    scim = {"Authorization": f"Bearer {stack.scim_token}", "Content-Type": "application/scim+json"}
    found = httpx.get(f"{stack.app_url}/scim/v2/Users", params={"filter": 'userName eq "ann"'}, headers=scim)
    assert found.status_code == 200 and found.json()["Resources"], found.text
    ann_id = found.json()["Resources"][0]["id"]
    hub = stack.hub_env()
    stack._run(["--app", "wsgi", "groups", "create", name], hub)  # no members: nothing to provision
    response = httpx.post(
        f"{stack.app_url}/scim/v2/Groups",
        content=json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": name,
                            "members": [{"value": ann_id}]}),
        headers=scim,
    )
    assert response.status_code == 201, response.text
    stack.refresh_pairing()
    page.goto(f"{stack.hub_url}/admin/pairing/invoices?dept=mismatch&q=ann")
    page.click("form button[type=submit]:has-text('Fix departments')")
    page.wait_for_selector("h1:has-text('Make the departments agree')")


def _password_reset(page: Page, stack: Stack) -> None:
    """An admin resets a user's password: the page with the new set-password link."""
    login = _unique("reset")
    stack._run(["--app", "wsgi", "users", "create", login, f"{login}@example.com"], stack.hub_env())
    page.goto(stack.hub_url + _user_edit_path(page, stack, login))
    page.click("form button[type=submit]:has-text('Reset password')")
    page.wait_for_selector("input.secret")


def _activate_unconfirmed(page: Page, stack: Stack) -> None:
    """"Activate" sent without ticking the box that the app accepts the new secret: the app
    page again, the box marked. (The browser itself stops an unticked ``required`` box; the
    server's answer is what a browser that does not check it gets.)"""
    slug = _stage_secret(page, stack)
    page.goto(f"{stack.hub_url}/admin/apps/{slug}")
    page.eval_on_selector("#step-activate form", "form => { form.noValidate = true; }")
    page.click("#step-activate button[type=submit]")
    page.wait_for_selector("#step-activate .field-error")


def _signed_in_as_new_user(page: Page, stack: Stack) -> str:
    login = _new_login(page, stack)
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, login, stack.password)
    return login


def _account_with_factors(page: Page, stack: Stack) -> str:
    """The account page of a user with an authenticator app and recovery codes (remove buttons)."""
    _enrol_totp(page, stack, _new_login(page, stack))
    return "/account/"


def _remove_totp_confirm(page: Page, stack: Stack) -> str:
    """The step before an authenticator app is removed: it asks for the current password."""
    _enrol_totp(page, stack, _new_login(page, stack))
    return "/account/totp/remove"


def _new_codes_confirm(page: Page, stack: Stack) -> str:
    """The step before new recovery codes replace the old ones: the current password."""
    _enrol_totp(page, stack, _new_login(page, stack))
    return "/account/recovery-codes"


def _remove_totp_refused(page: Page, stack: Stack) -> None:
    """That step sent with a wrong password: the error under the field, nothing removed."""
    _enrol_totp(page, stack, _new_login(page, stack))
    page.goto(f"{stack.hub_url}/account/totp/remove")
    page.fill("input[name=current]", "not-my-password")
    page.click("main form button[type=submit]")
    page.wait_for_selector(".field-error")


def _account_password_refused(page: Page, stack: Stack) -> None:
    """The change-password form sent with a wrong current password (a new user's own counter)."""
    _signed_in_as_new_user(page, stack)
    page.goto(f"{stack.hub_url}/account/")
    page.fill("input[name=current]", "not-my-password")
    page.fill("input[name=password]", "another-long-password")
    page.fill("input[name=confirm]", "another-long-password")
    page.click("#password button[type=submit]")
    page.wait_for_selector("#password .field-error, .flash.error, [role=alert]")


def _totp_wrong_code(page: Page, stack: Stack) -> None:
    """Setting up an authenticator app with a wrong code: the set-up page with the error."""
    _signed_in_as_new_user(page, stack)
    page.goto(f"{stack.hub_url}/account/totp")
    page.fill("input[name=code]", "000000" if _totp_code(page) != "000000" else "111111")
    page.click("form button[type=submit]:has-text('Turn on')")
    page.wait_for_load_state()


def _second_step_wrong_code(page: Page, stack: Stack) -> None:
    """The second step of a login answered with a wrong code."""
    _second_step(page, stack)
    page.fill("input[name=code]", "000000")
    page.click("main form button[type=submit]:has-text('Continue')")
    page.wait_for_load_state()


def _form_expired(page: Page, stack: Stack) -> None:
    """A form sent with a CSRF token that is no longer valid: the "form has expired" page (400)."""
    page.goto(f"{stack.hub_url}/")  # a visitor lands on the login form, a user on the start page (log-out form)
    with page.expect_navigation():
        page.evaluate(
            """() => { const input = document.querySelector('form input[name=csrf_token]');
                       input.value = 'expired'; input.form.requestSubmit(); }"""
        )


#: Every hub page, and who sees it. Pages of plugins and new features: add a line here.
PAGES: list[Visit] = [
    Visit("login", ("anonymous",), "/login", heading="Log in to"),
    Visit("login-for-app", ("anonymous",), "/login?next=/sso/jump/invoices", heading="Sign in to continue to Invoices"),
    # An OpenID Connect app asked a signed-in user to log in again (prompt=login, max_age).
    Visit("login-again-for-oidc-app", SIGNED_IN, "/login?again=1&next=%2Foidc%2Fauthorize%3Fclient_id%3Dhelpdesk",
          heading="Sign in to continue to Helpdesk"),
    Visit("set-password", ("anonymous",), open=_set_password, heading="Choose a password"),
    Visit("home", SIGNED_IN, "/", heading="Hello"),
    Visit("signed-out", ("anonymous",), open=_signed_out, heading="You are signed out"),
    Visit("users", ADMIN, "/admin/users/", heading="Users"),
    Visit("mfa-policy", ADMIN, "/admin/users/second-factor", heading="Second factor"),
    Visit("user-new", ADMIN, "/admin/users/new", heading="Add user"),
    Visit("user-new-errors", ADMIN, open=_user_form_errors, heading="Add user"),
    Visit("user-created", ADMIN, open=_user_created, heading="User created"),
    Visit("user-edit", ADMIN, open=_user_edit_path, heading="Edit ann"),
    Visit("user-deactivate-confirm", ADMIN, open=_user_deactivate_confirm, heading="Deactivate erin?"),
    Visit("apps", ADMIN, "/admin/apps/", heading="Connected apps"),
    Visit("app-new", ADMIN, "/admin/apps/new", heading="Add connected app"),
    Visit("app-edit", ADMIN, "/admin/apps/invoices", heading="Edit Invoices"),
    Visit("app-secret", ADMIN, open=_app_secret_shown, heading="Secret for Screenshot app"),
    Visit("audit", ADMIN, "/admin/audit/", heading="Audit log"),
    Visit("pairing", ADMIN, "/admin/pairing/invoices", heading="Who can move between"),
    Visit("account", SIGNED_IN, "/account/", heading="Your account"),
    Visit("account-totp", ("user",), "/account/totp", heading="Set up an authenticator app"),
    Visit("account-recovery-codes", ("anonymous",), open=_recovery_codes, heading="Your recovery codes"),
    Visit("login-second-step", ("anonymous",), open=_second_step, heading="One more step"),
    Visit("login-enrol", ("anonymous",), open=_enrol_at_login, heading="Protect your account"),
    Visit("forgot-password", ("anonymous",), "/forgot-password", heading="Forgot your password?"),
    Visit("forgot-password-sent", ("anonymous",), open=_forgot_sent),
    Visit("account-apps", SIGNED_IN, "/account/apps", heading="Apps you allowed"),
    Visit("oidc-consent", ADMIN, open=_consent, heading="Allow Partner portal"),
    Visit("oidc-logout-confirm", SIGNED_IN, "/oidc/logout", heading="Log out?"),
    Visit("oidc-logged-out", ("anonymous",), open=_oidc_logged_out, heading="You are logged out"),
    Visit("oidc-app-secret", ADMIN, open=_oidc_secret_shown, heading="Client secret for Partner portal"),
    Visit("oidc-app-new", ADMIN, "/admin/oidc/new", heading="Add an OpenID Connect app"),
    Visit("oidc-app-edit", ADMIN, "/admin/oidc/helpdesk", heading="Helpdesk"),
    Visit("groups", ADMIN, "/admin/groups/", heading="Groups"),
    Visit("group", ADMIN, open=_group_page, heading="Group Team"),
    Visit("group-delete-confirm", ADMIN, open=_group_delete_confirm, heading="Delete the group"),
    Visit("app-access", ADMIN, "/admin/groups/apps/invoices/access", heading="Who may open Invoices"),
    Visit("app-secret-staged", ADMIN, open=_staged_secret_shown, heading="New (staged) secret"),
    Visit("app-rotation-activate", ADMIN, open=_rotation_staged, heading="Edit Screenshot app"),
    Visit("app-rotation-retire", ADMIN, open=_rotation_retire, heading="Edit Screenshot app"),
    Visit("pairing-fix-confirm", ADMIN, open=_pairing_fix_confirm, heading="please confirm"),
    Visit("pairing-bulk-confirm", ADMIN, open=_pairing_bulk_confirm, heading="please confirm"),
    Visit("pairing-compare", ADMIN, open=_pairing_compare, heading="the accounts side by side"),
    Visit("pairing-created-in-hub", ADMIN, open=_pairing_created_in_hub, heading="Created in the hub"),
    Visit("pairing-department-confirm", ADMIN, open=_pairing_department_confirm, heading="Make the departments agree"),
    Visit("user-password-reset", ADMIN, open=_password_reset, heading="Password reset"),
    Visit("app-rotation-activate-unconfirmed", ADMIN, open=_activate_unconfirmed, heading="Edit Screenshot app"),
    Visit("account-with-factors", ("anonymous",), open=_account_with_factors, heading="Your account"),
    Visit("account-remove-totp-confirm", ("anonymous",), open=_remove_totp_confirm,
          heading="Remove the authenticator app?"),
    Visit("account-remove-totp-refused", ("anonymous",), open=_remove_totp_refused,
          heading="Remove the authenticator app?"),
    Visit("account-new-recovery-codes-confirm", ("anonymous",), open=_new_codes_confirm,
          heading="Make new recovery codes?"),
    Visit("account-password-refused", ("anonymous",), open=_account_password_refused, heading="Your account"),
    Visit("account-totp-wrong-code", ("anonymous",), open=_totp_wrong_code, heading="Set up an authenticator app"),
    Visit("login-second-step-wrong-code", ("anonymous",), open=_second_step_wrong_code, heading="One more step"),
    Visit("error-400-form-expired", ANYONE, open=_form_expired, heading="The form has expired"),
    Visit("error-400-oidc-refused", ANYONE, "/oidc/authorize?client_id=no-such-app", status=400,
          heading="Sign-in request refused"),
    Visit("error-403", ("user",), "/admin/users/", status=403, heading="Access denied"),
    Visit("error-404", ANYONE, "/no/such/page", status=404, heading="Page not found"),
    Visit("error-405", ANYONE, "/logout", status=405, heading="Not available here"),
    Visit("error-429", ("anonymous",), open=_too_many_attempts, heading="Log in to"),
]


# -- the checks -----------------------------------------------------------------------------------


def _fill_login(page: Page, login: str, password: str) -> None:
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    page.click("form button[type=submit]:has-text('Log in')")
    page.wait_for_load_state()


def overflow(page: Page) -> tuple[int, int]:
    """(document width, viewport width): the page scrolls sideways when the first is larger."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    return int(width), int(inner)


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's violations on the current page (WCAG 2.1 A/AA and best practices)."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map(n => n.target.join(' '))}));
        }"""
    )
    return list(result)


@pytest.fixture(scope="module")
def axe_script() -> Path:
    if not AXE.exists():
        unavailable(f"{AXE} is missing: run `npm ci --prefix tests/e2e` (see tests/e2e/package.json)")
    return AXE


@pytest.fixture
def sized_page(browser: Any, request: pytest.FixtureRequest) -> Iterator[Callable[[str], Page]]:
    """``open(viewport) -> page`` in a fresh context; CSP is bypassed only so that axe can be injected."""
    contexts: list[Any] = []

    def make(viewport: str) -> Page:
        context = browser.new_context(viewport=VIEWPORTS[viewport], bypass_csp=True)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def _cases() -> Iterator[Any]:
    for visit in PAGES:
        for role in visit.roles:
            for viewport in VIEWPORTS:
                yield pytest.param(visit, role, viewport, id=f"{visit.name}-{role}-{viewport}")


@pytest.mark.parametrize(("visit", "role", "viewport"), list(_cases()))
def test_page_fits_and_is_accessible(
    sized_page: Callable[[str], Page], stack: Stack, axe_script: Path, visit: Visit, role: str, viewport: str
) -> None:
    page = sized_page(viewport)
    login = ROLE_LOGINS[role]
    if login:
        page.goto(f"{stack.hub_url}/login")
        _fill_login(page, login, stack.password)
        assert "/login" not in page.url, f"could not log in as {login}"
    path = visit.path
    if visit.open is not None:
        path = visit.open(page, stack)
    if path is not None:
        response = page.goto(stack.hub_url + path)
        assert response is not None and response.status == visit.status, (path, response and response.status)
    if visit.heading:
        assert visit.heading in page.locator("h1").first.inner_text()

    PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(PAGE_SHOTS / f"{visit.name}-{role}-{viewport}.png"), full_page=True)

    width, inner = overflow(page)
    assert width <= inner, f"{visit.name} as {role} is {width} px wide in a {inner} px window"
    violations = axe_violations(page)
    AXE_RESULTS.mkdir(parents=True, exist_ok=True)
    (AXE_RESULTS / f"{visit.name}-{role}-{viewport}.json").write_text(json.dumps(violations, indent=1))
    blocking = [v for v in violations if v["impact"] in BLOCKING]
    assert not blocking, json.dumps(blocking, indent=1)


def test_menu_folds_at_390_and_opens_without_script(sized_page: Callable[[str], Page], stack: Stack) -> None:
    wide, narrow = sized_page("1280"), sized_page("390")
    for page in (wide, narrow):
        page.goto(f"{stack.hub_url}/login")
        _fill_login(page, "admin", stack.password)
    users_link = "nav.menu a:has-text('Users')"
    assert wide.locator(users_link).is_visible() and not wide.locator("label[for=menu-toggle]").is_visible()
    assert not narrow.locator(users_link).is_visible()
    narrow.click("label[for=menu-toggle]")
    assert narrow.locator(users_link).is_visible()
    PAGE_SHOTS.mkdir(parents=True, exist_ok=True)
    narrow.screenshot(path=str(PAGE_SHOTS / "menu-open-admin-390.png"))
    narrow.click(users_link)
    narrow.wait_for_url(re.compile(r"/admin/users/"))
    assert narrow.locator("nav.menu a[aria-current=page]").inner_text() == "Users"


def test_wide_tables_scroll_inside_their_card(sized_page: Callable[[str], Page], stack: Stack) -> None:
    page = sized_page("390")
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, "admin", stack.password)
    page.goto(f"{stack.hub_url}/admin/pairing/invoices")
    wrap = page.locator(".table-wrap").first
    table_width = wrap.evaluate("w => w.querySelector('table').scrollWidth")
    wrap_width = wrap.evaluate("w => w.clientWidth")
    assert table_width > wrap_width  # the table is wider than the phone: it scrolls in its wrapper...
    assert overflow(page)[0] <= overflow(page)[1]  # ...and the page itself does not


def test_pairing_snapshot_is_there_when_the_stack_starts(sized_page: Callable[[str], Page], stack: Stack) -> None:
    page = sized_page("1280")
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, "admin", stack.password)
    page.goto(f"{stack.hub_url}/admin/pairing/invoices")
    assert "No snapshot" not in page.locator("p.snapshot").inner_text()
    assert int(page.locator("span.count[data-status=missing_in_hub]").inner_text()) == 1  # frank


def test_crm_button_lands_on_a_page_named_like_it(sized_page: Callable[[str], Page], stack: Stack) -> None:
    page = sized_page("1280")
    page.goto(f"{stack.hub_url}/login")
    _fill_login(page, "ann", stack.password)
    page.click("a.app-button:has-text('Invoices')")
    page.wait_for_url(re.compile(re.escape(stack.app_url)))
    button = page.locator("#crm-button").inner_text().strip()
    page.click("#crm-button")
    page.wait_for_url(re.compile(re.escape(stack.hub_url)))
    assert page.title().endswith(f"· {button}") and button in page.locator("header .brand").inner_text()
