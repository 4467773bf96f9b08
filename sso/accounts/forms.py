"""Forms of the account pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional


class LoginForm(FlaskForm):
    login = StringField(
        "Login or e-mail", validators=[DataRequired("Enter your login or e-mail address."), Length(max=300)]
    )
    password = PasswordField("Password", validators=[DataRequired("Enter your password."), Length(max=1024)])
    next = HiddenField()


class LogoutForm(FlaskForm):
    """Empty: only the CSRF token."""


class SetPasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[
        DataRequired("Choose a password."), Length(min=10, max=1024, message="Use 10 to 1024 characters."),
    ])
    confirm = PasswordField("Repeat the password", validators=[
        DataRequired("Type the password again."), EqualTo("password", "The passwords differ."),
    ])


class UserForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired("Enter a login."), Length(max=64)])
    email = StringField("E-mail", validators=[DataRequired("Enter an e-mail address."), Length(max=254)])
    name = StringField("Display name", validators=[Optional(), Length(max=200)])
    active = BooleanField("Active", default=True)
    is_admin = BooleanField("Administrator")


class ActionForm(FlaskForm):
    """A button that posts (CSRF token only)."""


class MfaPolicyForm(FlaskForm):
    """Who must use a second factor."""

    required = RadioField(
        "Who must use a second factor",
        choices=[
            SelectChoice("none", "Nobody: a second factor is optional"),
            SelectChoice("admins", "Administrators"),
            SelectChoice("everyone", "Everyone"),
        ],
        validators=[DataRequired("Choose who must use a second factor.")],
    )
