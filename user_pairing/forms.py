"""Forms of the pairing page (each carries a CSRF token)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from .sources import SOURCE_KINDS

KIND_LABELS = {"scim": "SCIM 2.0", "json": "JSON list (api_token, page)", "csv": "CSV upload"}


class DirectoryForm(FlaskForm):
    kind = SelectField("Directory type", choices=[SelectChoice(k, KIND_LABELS[k]) for k in SOURCE_KINDS])
    url = StringField("URL (SCIM base, e.g. https://app.example/scim/v2)", validators=[Optional(), Length(max=2048)])
    token = PasswordField(
        "Token (leave empty to keep the stored one; a new URL or type needs it again)",
        validators=[Optional(), Length(max=4096)],
    )


class RefreshForm(FlaskForm):
    file = FileField("CSV file (login,email,name)")


class FixForm(FlaskForm):
    key = HiddenField(validators=[DataRequired(), Length(max=64)])


class DepartmentForm(FlaskForm):
    """The department fix: ``key`` of the app user; ``side`` and ``confirm`` once confirmed."""

    key = HiddenField(validators=[DataRequired(), Length(max=64)])
    side = HiddenField(validators=[Optional(), Length(max=8)])
    confirm = HiddenField(validators=[Optional(), Length(max=8)])


class ConfirmForm(FlaskForm):
    """Confirms fixes: ``action`` plus one ``key`` input per row (read with ``getlist``)."""

    action = HiddenField(validators=[DataRequired(), Length(max=32)])


class RetryForm(FlaskForm):
    pass
