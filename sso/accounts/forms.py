"""Forms of the account pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    login = StringField("Login or e-mail", validators=[DataRequired(), Length(max=300)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Empty: only the CSRF token."""


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=1024)])
    confirm = PasswordField(
        "Repeat the password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )


class UserForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=64)])
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)])
    name = StringField("Display name", validators=[Optional(), Length(max=200)])
    active = BooleanField("Active", default=True)
    is_admin = BooleanField("Administrator")


class ActionForm(FlaskForm):
    """A button that posts (CSRF token only)."""
