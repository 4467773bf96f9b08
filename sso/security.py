"""Response headers set on every hub response."""

from __future__ import annotations

from flask import Flask, Response, abort, g, request


def _csp() -> str:
    frames = " ".join(getattr(g, "frame_origins", []) or [])
    frame_src = f"frame-src {frames}" if frames else "frame-src 'none'"
    img_src = f"img-src 'self' {frames}" if frames else "img-src 'self'"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; "
        f"base-uri 'none'; frame-ancestors 'none'; {frame_src}; {img_src}"
    )


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
    for source in (request.args, request.form):
        for key, values in source.lists():
            if "\x00" in key or any("\x00" in value for value in values):
                abort(400)


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul_bytes)
    app.after_request(set_headers)
