"""A SCIM 2.0 users directory (RFC 7643/7644) at ``/scim/v2/Users``, for the hub's pairing page."""

from __future__ import annotations

from .protocol import ScimError
from .views import init_app

__all__ = ["ScimError", "init_app"]
