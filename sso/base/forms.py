"""Showing a use case's error on a form: next to its field when it names one.

Use cases raise :class:`~sso.base.errors.HubError` with ``field="login"`` (say) when the
message is about one input. :func:`form_error` puts it under that field of the WTForms form
(the ``field`` macro of ``templates/_forms.html`` shows it there); anything else comes back
as the text for the page's one banner. Views stay thin::

    except ValidationError as err:
        return render_template("admin/user_form.html", form=form, error=form_error(form, err)), 400
"""

from __future__ import annotations

from typing import Any

__all__ = ["form_error"]


def form_error(form: Any, err: Exception) -> str | None:
    """Attach ``err`` to the field of ``form`` it names and return None; else return its
    message (for the banner). A field the form does not show keeps the banner.

    ``err`` is a :class:`~sso.base.errors.HubError` or any exception with the same
    ``message`` and ``field`` attributes (a plugin's own errors may follow them)."""
    name = getattr(err, "field", None)
    message = str(getattr(err, "message", None) or err)
    field = form[name] if name and name in form else None
    if field is None or field.type == "HiddenField":
        return message
    if not isinstance(field.errors, list):  # WTForms sets a tuple until the form is validated
        field.errors = list(field.errors)
    field.errors.append(message)
    return None
