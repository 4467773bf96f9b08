"""Access checks shared by the admin pages."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask_login import current_user, login_required

from .errors import Forbidden


def admin_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Log in first; then only administrators pass (others get a 403 page)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_admin:
            raise Forbidden("This page is for administrators.")
        return view(*args, **kwargs)

    return login_required(wrapper)
