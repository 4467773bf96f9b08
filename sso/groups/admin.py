"""Admin pages for groups: list and create, members (add, remove), rename, delete, and
who may open each connected app.

Thin: each view parses its form, calls one use case and maps a
:class:`~sso.base.errors.HubError` to the page with the message.
"""

from __future__ import annotations

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms.fields.choices import SelectChoice

from sso.base.access import admin_required
from sso.base.errors import HubError, ValidationError
from sso.connected_apps.links import add_app_link
from sso.connected_apps.service import get_app

from .access import access_policy, apps_limited_to, set_app_access
from .forms import AccessForm, ActionForm, GroupForm, MemberForm
from .models import Group
from .service import (
    add_member,
    create_group,
    delete_group,
    get_group,
    list_groups,
    members,
    remove_member,
    rename_group,
)

bp = Blueprint("groups_admin", __name__, url_prefix="/admin/groups")

_STALE = "The form was out of date. Reload the page and try again."


def init_app(app: Flask) -> None:
    """Register the pages, and an "Access" link per app on the connected-apps page."""
    app.register_blueprint(bp)
    add_app_link(app, "Access", "groups_admin.app_access")


def _require(form: ActionForm | GroupForm | MemberForm) -> None:
    if not form.validate_on_submit():
        raise ValidationError(_STALE)


@bp.get("/")
@admin_required
def index() -> ResponseReturnValue:
    return render_template("admin/groups.html", groups=list_groups(), form=GroupForm())


@bp.post("/")
@admin_required
def create() -> ResponseReturnValue:
    form = GroupForm()
    if not form.validate_on_submit():
        return render_template("admin/groups.html", groups=list_groups(), form=form), 400
    try:
        group = create_group(form.name.data or "")
    except HubError as err:
        return render_template("admin/groups.html", groups=list_groups(), form=form, error=err.message), err.status
    flash(f"Group {group.name} created. Add its members below.", "info")
    return redirect(url_for("groups_admin.detail", group_id=group.id))


def _detail_page(group: Group, *, error: str | None = None, member_form: MemberForm | None = None,
                 rename_form: GroupForm | None = None, status: int = 200) -> ResponseReturnValue:
    return render_template(
        "admin/group.html", group=group, members=members(group), error=error,
        member_form=member_form or MemberForm(formdata=None),
        rename_form=rename_form or GroupForm(formdata=None, name=group.name),
        action_form=ActionForm(),
    ), status


@bp.get("/<int:group_id>")
@admin_required
def detail(group_id: int) -> ResponseReturnValue:
    return _detail_page(get_group(group_id))


@bp.post("/<int:group_id>/members")
@admin_required
def add(group_id: int) -> ResponseReturnValue:
    group = get_group(group_id)
    form = MemberForm()
    if not form.validate_on_submit():
        return _detail_page(group, member_form=form, error="Enter a login or e-mail.", status=400)
    try:
        added = add_member(group, form.login.data or "")
    except HubError as err:
        return _detail_page(group, member_form=form, error=err.message, status=err.status)
    flash(f"Added to {group.name}." if added else f"Already in {group.name}.", "info")
    return redirect(url_for("groups_admin.detail", group_id=group.id))


@bp.post("/<int:group_id>/members/<int:user_id>/remove")
@admin_required
def remove(group_id: int, user_id: int) -> ResponseReturnValue:
    group = get_group(group_id)
    _require(ActionForm())
    user = next((u for u in members(group) if u.id == user_id), None)
    if user is None:
        flash("This user is not in the group (any more).", "info")
    else:
        remove_member(group, user)
        flash(f"Removed {user.login} from {group.name}.", "info")
    return redirect(url_for("groups_admin.detail", group_id=group.id))


@bp.post("/<int:group_id>/rename")
@admin_required
def rename(group_id: int) -> ResponseReturnValue:
    group = get_group(group_id)
    form = GroupForm()
    if not form.validate_on_submit():
        return _detail_page(group, rename_form=form, error="Enter the new name.", status=400)
    try:
        changed = rename_group(group, form.name.data or "")
    except HubError as err:
        return _detail_page(group, rename_form=form, error=err.message, status=err.status)
    flash(f"Renamed to {group.name}." if changed else "The name is unchanged.", "info")
    return redirect(url_for("groups_admin.detail", group_id=group.id))


@bp.route("/<int:group_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(group_id: int) -> ResponseReturnValue:
    """GET: the confirmation (members, apps limited to the group); POST: delete."""
    group = get_group(group_id)
    if request.method == "GET":
        return render_template("admin/group_delete.html", group=group, member_count=len(members(group)),
                               limited_apps=apps_limited_to(group), action_form=ActionForm())
    _require(ActionForm())
    name = group.name
    count = delete_group(group)
    flash(f"Group {name} deleted ({count} members; the users stay).", "info")
    return redirect(url_for("groups_admin.index"))


@bp.route("/apps/<slug>/access", methods=["GET", "POST"])
@admin_required
def app_access(slug: str) -> ResponseReturnValue:
    app = get_app(slug)
    names = [g.name for g in list_groups()]
    policy = access_policy(app)
    form = AccessForm(
        who="everyone" if policy.everyone else "groups", groups=policy.groups or [],
    )
    form.groups.choices = [SelectChoice(n, n) for n in names]
    if request.method == "POST":
        if not form.validate_on_submit() or form.who.data not in {"everyone", "groups"}:
            return render_template("admin/app_access.html", app=app, form=form, policy=policy, error=_STALE), 400
        chosen = None if form.who.data == "everyone" else list(form.groups.data or [])
        try:
            changed = set_app_access(app, chosen)
        except HubError as err:
            return render_template("admin/app_access.html", app=app, form=form, policy=policy,
                                   error=err.message), err.status
        flash("Saved." if changed else "Nothing changed.", "info")
        return redirect(url_for("groups_admin.app_access", slug=app.slug))
    return render_template("admin/app_access.html", app=app, form=form, policy=policy)
