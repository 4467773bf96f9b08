"""Response headers set on every hub response."""

from __future__ import annotations

from flask import Flask, Response, abort, g, request

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
    """Referrer-Policy no-referrer everywhere; no framing; no sniffing; a strict CSP."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Content-Security-Policy", _csp())
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


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
    app.before_request(refuse_nul_bytes)
    app.after_request(set_headers)
