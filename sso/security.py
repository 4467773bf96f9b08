"""Response headers set on every hub response."""

from __future__ import annotations

from flask import Flask, Response, abort, current_app, g, request

_FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
_CSP_BASE = (
    "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; "
)
_CSP_NO_FRAMES = _CSP_BASE + "frame-src 'none'; img-src 'self'"  # every page but logout


def _csp() -> str:
    frames = " ".join(getattr(g, "frame_origins", []) or [])
    if not frames:
        return _CSP_NO_FRAMES
    return f"{_CSP_BASE}frame-src {frames}; img-src 'self' {frames}"


def set_headers(response: Response) -> Response:
    """Referrer-Policy no-referrer everywhere; no framing; no sniffing; a strict CSP.

    Headers a view set itself are kept (Referrer-Policy excepted). One pass over the
    existing headers: Werkzeug's ``setdefault`` walks them once per header, on every response.
    """
    headers = response.headers
    present = {key.lower() for key, _value in headers.items()}
    if "referrer-policy" in present:
        headers.set("Referrer-Policy", "no-referrer")
    else:
        headers.add("Referrer-Policy", "no-referrer")
    if "x-content-type-options" not in present:
        headers.add("X-Content-Type-Options", "nosniff")
    if "x-frame-options" not in present:
        headers.add("X-Frame-Options", "DENY")
    if "content-security-policy" not in present:
        headers.add("Content-Security-Policy", _csp())
    if "cache-control" not in present and response.mimetype == "text/html":
        headers.add("Cache-Control", "no-store")
    hsts = _hsts()
    if hsts and "strict-transport-security" not in present:
        headers.add("Strict-Transport-Security", hsts)
    return response


def _hsts() -> str | None:
    """The Strict-Transport-Security value when the hub is served over HTTPS: its public
    URL is ``https://`` or this request came over HTTPS (directly or from a trusted proxy)."""
    config = current_app.config
    if request.is_secure or str(config["BASE_URL"] or "").startswith("https://"):
        return f"max-age={int(config['HSTS_MAX_AGE'])}"
    return None


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def refuse_non_form_bodies() -> None:
    """415 for a body that is not an HTML form on every hub endpoint that takes one.

    Every page that accepts a body is an HTML form (Flask-WTF); the hub has no JSON API.
    Flask-WTF would read a JSON body as the form's data (``{"login": 5}`` reaches the
    validators as an int), so anything but ``application/x-www-form-urlencoded`` and
    ``multipart/form-data`` is refused here, once, before any view runs. A request with no
    body at all (a bare button POST) passes.
    """
    if request.method not in _BODY_METHODS:
        return
    if request.mimetype in _FORM_TYPES:
        return
    if not request.mimetype and not request.content_length and "chunked" not in (
        request.headers.get("Transfer-Encoding", "").lower()
    ):
        return
    abort(415)


def refuse_nul_bytes() -> None:
    """400 for a NUL character anywhere in the path, query or form: no database stores it
    (PostgreSQL refuses it in text) and no legitimate input holds it."""
    if "\x00" in request.path:
        abort(400)
    # The form is only looked at when the body is one (parsing nothing costs time too).
    sources = (request.args, request.form) if request.mimetype in _FORM_TYPES else (request.args,)
    for source in sources:
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                abort(400)


def init_app(app: Flask) -> None:
    app.before_request(refuse_non_form_bodies)
    app.before_request(refuse_nul_bytes)
    app.after_request(set_headers)
