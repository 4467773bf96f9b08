"""Forms of the group pages (Flask-WTF: CSRF on every one)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectMultipleField, StringField, widgets
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from .models import MAX_GROUP_NAME


class GroupForm(FlaskForm):
    name = StringField("Group name", validators=[DataRequired(), Length(max=MAX_GROUP_NAME * 2)])


class MemberForm(FlaskForm):
    login = StringField("Login or e-mail", validators=[DataRequired(), Length(max=300)])


class ActionForm(FlaskForm):
    """A button that posts (CSRF token only)."""


class AccessForm(FlaskForm):
    who = RadioField(
        "Who may open this app",
        choices=[
            SelectChoice("everyone", "Everyone"),
            SelectChoice("groups", "Only members of the groups ticked below"),
        ],
        default="everyone",
    )
    groups = SelectMultipleField(
        "Groups", coerce=str, option_widget=widgets.CheckboxInput(), widget=widgets.ListWidget(prefix_label=False),
        validate_choice=False,
    )
