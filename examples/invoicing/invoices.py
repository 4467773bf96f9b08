"""The invoicing pages themselves: a list of sample invoices and a small form to add one."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import Blueprint, Flask, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response
from wtforms import DecimalField, StringField
from wtforms.validators import DataRequired, Length, NumberRange

from .db import db
from .models import Invoice

bp = Blueprint("invoices", __name__)


def init_app(app: Flask) -> None:
    """Register the invoice pages on ``app``."""
    app.register_blueprint(bp)


class InvoiceForm(FlaskForm):
    """A new invoice: who it is for and how much."""

    client = StringField("Client", validators=[DataRequired(), Length(max=200)])
    amount = DecimalField(
        "Amount", places=2, validators=[DataRequired(), NumberRange(min=Decimal("0.01"), max=Decimal("1e9"))]
    )


@bp.get("/invoices")
@bp.get("/")  # registered first, so url_for("invoices.index") is "/"
@login_required
def index() -> str:
    """Every invoice, newest first, with who issued it."""
    invoices = db.session.scalars(sa.select(Invoice).order_by(Invoice.id.desc()).limit(200)).all()
    return render_template("invoices.html", invoices=invoices)


@bp.route("/invoices/new", methods=["GET", "POST"])
@login_required
def new() -> str | tuple[str, int] | Response:
    """Show the form; on a valid POST, store the invoice under the next free number."""
    form = InvoiceForm()
    if form.validate_on_submit():
        year = datetime.now(UTC).year
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Invoice)) or 0
        invoice = Invoice(
            number=f"FV/{year}/{count + 1:04d}",
            client=form.client.data.strip(),
            amount_cents=int(form.amount.data * 100),
            issued_by_id=current_user.id,
        )
        db.session.add(invoice)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            flash("Another invoice took that number just now; please submit again.")
            return render_template("invoice_new.html", form=form), 409
        flash(f"Invoice {invoice.number} created.")
        return redirect(url_for("invoices.index"))
    status = 400 if form.is_submitted() else 200
    return render_template("invoice_new.html", form=form), status
