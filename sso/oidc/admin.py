"""Admin pages of OIDC apps: add one, see and change its settings, a new client secret.

Thin: each view parses its form, calls one use case of :mod:`.service` and maps
:class:`~sso.base.errors.HubError` to the form page with the message.
"""

from __future__ import annotations

from flask import Blueprint, flash, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from sso.base.access import admin_required
from sso.base.errors import HubError

from .models import OidcClient
from .service import add_client, get_client, new_client_secret, update_client

bp = Blueprint("oidc_admin", __name__, url_prefix="/admin/oidc")


class ClientForm(FlaskForm):
    slug = StringField("Client id (slug)", validators=[DataRequired(), Length(max=64)])
    name = StringField("Display name", validators=[DataRequired(), Length(max=200)])
    redirect_uris = TextAreaField("Redirect URIs, exact (one per line)", validators=[DataRequired(), Length(max=8000)])
    post_logout_redirect_uris = TextAreaField("Post-logout redirect URIs (one per line)",
                                              validators=[Optional(), Length(max=8000)])
    backchannel_logout_uri = StringField("Back-channel logout URI", validators=[Optional(), Length(max=2048)])
    initiate_login_uri = StringField("Login start URI (the menu button)", validators=[Optional(), Length(max=2048)])
    enabled = BooleanField("Enabled", default=True)
    public = BooleanField("Public client (no secret, e.g. a single-page app)")
    third_party = BooleanField("Third-party app: ask users for consent")
    refresh_tokens = BooleanField("Issue refresh tokens (rotated on use)")
    id_token_alg = SelectField("ID-token algorithm", choices=["RS256", "ES256"])
    secret = PasswordField("Client secret (leave empty to generate one)", validators=[Optional(), Length(max=1024)])


class ButtonForm(FlaskForm):
    """A button (CSRF token only)."""


def _lines(text: str | None) -> list[str]:
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _secret_page(row: OidcClient, plain: str) -> ResponseReturnValue:
    response = make_response(render_template("oidc/admin_secret.html", client=row, secret=plain))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new() -> ResponseReturnValue:
    form = ClientForm()
    if form.validate_on_submit():
        try:
            app, plain = add_client(
                form.slug.data or "", form.name.data or "", _lines(form.redirect_uris.data),
                post_logout_redirect_uris=_lines(form.post_logout_redirect_uris.data),
                backchannel_logout_uri=form.backchannel_logout_uri.data or None,
                initiate_login_uri=form.initiate_login_uri.data or None, public=bool(form.public.data),
                secret=(form.secret.data or None) if not form.public.data else None,
                first_party=not form.third_party.data, refresh_tokens=bool(form.refresh_tokens.data),
                id_token_alg=form.id_token_alg.data or "RS256",
            )
        except HubError as err:
            return render_template("oidc/admin_form.html", form=form, client=None, error=err.message), 400
        row = get_client(app.slug)
        if plain is not None and not form.secret.data:
            return _secret_page(row, plain)
        return redirect(url_for("oidc_admin.edit", slug=app.slug))
    status = 400 if request.method == "POST" else 200
    return render_template("oidc/admin_form.html", form=form, client=None), status


@bp.route("/<slug>", methods=["GET", "POST"])
@admin_required
def edit(slug: str) -> ResponseReturnValue:
    row = get_client(slug)
    form = ClientForm()
    if request.method == "GET":
        form.slug.data, form.name.data = row.app.slug, row.app.name
        form.redirect_uris.data = "\n".join(row.redirect_uris)
        form.post_logout_redirect_uris.data = "\n".join(row.post_logout_redirect_uris)
        form.backchannel_logout_uri.data = row.backchannel_logout_uri or ""
        form.initiate_login_uri.data = row.initiate_login_uri or ""
        form.public.data, form.third_party.data = row.public, not row.first_party
        form.enabled.data = row.app.enabled
        form.refresh_tokens.data, form.id_token_alg.data = row.refresh_tokens, row.id_token_alg
    form.slug.data = row.app.slug
    if form.validate_on_submit():
        try:
            update_client(
                row, name=form.name.data or "", redirect_uris=_lines(form.redirect_uris.data),
                post_logout_redirect_uris=_lines(form.post_logout_redirect_uris.data),
                backchannel_logout_uri=form.backchannel_logout_uri.data or None,
                initiate_login_uri=form.initiate_login_uri.data or None,
                first_party=not form.third_party.data, refresh_tokens=bool(form.refresh_tokens.data),
                id_token_alg=form.id_token_alg.data or "RS256", enabled=bool(form.enabled.data),
            )
        except HubError as err:
            return render_template("oidc/admin_form.html", form=form, client=row, error=err.message,
                                   button=ButtonForm()), 400
        flash("Saved.", "info")
        return redirect(url_for("oidc_admin.edit", slug=slug))
    status = 400 if request.method == "POST" else 200
    return render_template("oidc/admin_form.html", form=form, client=row, button=ButtonForm()), status


@bp.post("/<slug>/secret")
@admin_required
def secret(slug: str) -> ResponseReturnValue:
    row = get_client(slug)
    if not ButtonForm().validate_on_submit():
        raise HubError("The form was out of date. Reload the page and try again.")
    return _secret_page(row, new_client_secret(row))
