"""The audit page: newest first, paged, filter by user and event."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from sso.accounts.models import User
from sso.audit.models import AuditEvent
from sso.audit.service import EVENTS, flush
from sso.base.access import admin_required
from sso.base.db import db
from sso.base.identity import normalize_key
from sso.base.pagination import page_arg

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    event = request.args.get("event", "")
    user_text = request.args.get("user", "")[:300].strip()
    flush()  # this worker's buffered entries (jumps) are in the table before it is read
    stmt = select(AuditEvent)
    if event in EVENTS:
        stmt = stmt.where(AuditEvent.event == event)
    else:
        event = ""
    if user_text:
        key = normalize_key(user_text)
        ids = select(User.id).where((User.login_key == key) | (User.email_key == key))
        stmt = stmt.where((AuditEvent.user_id.in_(ids)) | (AuditEvent.actor == user_text))
    page = db.paginate(
        stmt.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()),
        page=page_arg(request.args.get("page")), per_page=int(current_app.config["AUDIT_PER_PAGE"]),
        error_out=False,
    )
    rows = page.items
    wanted = {r.user_id for r in rows if r.user_id}
    users = {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(wanted)))} if wanted else {}
    return render_template(
        "admin/audit.html", rows=rows, users=users, events=EVENTS, event=event, user=user_text, page=page,
    )
