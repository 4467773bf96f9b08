"""Forms of the connected-app admin pages."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from .models import DEFAULT_TOKEN_LIFETIME


class AppForm(FlaskForm):
    slug = StringField("Slug", validators=[DataRequired(), Length(max=64)])
    name = StringField("Display name", validators=[DataRequired(), Length(max=200)])
    login_url_template = StringField("Login URL template", validators=[DataRequired(), Length(max=2048)])
    allowed_origins = TextAreaField("Allowed origins (one per line)", validators=[Optional(), Length(max=8000)])
    token_lifetime = IntegerField(
        "Token lifetime (seconds)", default=DEFAULT_TOKEN_LIFETIME,
        validators=[DataRequired(), NumberRange(min=30, max=3600)],
    )
    enabled = BooleanField("Enabled", default=True)
    logout_url = StringField("Logout URL (optional)", validators=[Optional(), Length(max=2048)])
    login_urls = TextAreaField(
        "Login URLs for the service-initiated flow (one per line, exact; empty on a new app: the default)",
        validators=[Optional(), Length(max=20000)],
    )
    secret = PasswordField("Secret (leave empty to generate one)", validators=[Optional(), Length(max=1024)])


class SecretForm(FlaskForm):
    secret = PasswordField("New secret (leave empty to generate one)", validators=[Optional(), Length(max=1024)])


class ActivateForm(FlaskForm):
    """Activation asks for a confirmation: a required checkbox, checked by the server."""

    confirm = BooleanField("The app accepts the new secret now (I configured it).", validators=[DataRequired(
        "Tick the box once the app accepts the new secret: activating earlier makes every sign-in fail.")])


class RetireForm(FlaskForm):
    """A retire or discard button (CSRF token only)."""
