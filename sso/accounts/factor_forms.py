"""Forms of the second-factor, account and forgot-password pages (CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class CodeForm(FlaskForm):
    code = StringField("Code from your authenticator app, or a recovery code",
                       validators=[DataRequired(), Length(max=64)])


class TotpEnrolForm(FlaskForm):
    code = StringField("The 6-digit code your app shows", validators=[DataRequired(), Length(max=64)])


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    password = PasswordField("New password", validators=[DataRequired(), Length(min=10, max=1024)])
    confirm = PasswordField(
        "Repeat the new password", validators=[DataRequired(), EqualTo("password", "The passwords differ.")]
    )


class CurrentPasswordForm(FlaskForm):
    """Asked before a second factor is removed or the recovery codes are replaced."""

    current = PasswordField("Your current password", validators=[DataRequired(), Length(max=1024)])


class ForgotPasswordForm(FlaskForm):
    email = StringField("Your e-mail address", validators=[DataRequired(), Length(max=254)])
