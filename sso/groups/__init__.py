"""Groups (departments) of hub users and which groups may open which connected app.

What other packages use (import them from here):

* :func:`user_groups` / :func:`group_names`: a user's group names (the Multipass ``groups``
  claim, the OIDC ``groups`` scope).
* :func:`may_open`: may this user open this app? (the top menu, the jump, an OIDC
  authorization); :func:`require_access` raises :class:`AccessDenied` and audits
  ``access_denied``.
* :data:`membership_changed`: a blinker signal sent when a user joins or leaves a group.
"""

from .access import AccessDenied, may_open, require_access, visible_apps
from .service import group_names, user_groups
from .signals import group_renamed, membership_changed

__all__ = [
    "AccessDenied",
    "group_names",
    "group_renamed",
    "may_open",
    "membership_changed",
    "require_access",
    "user_groups",
    "visible_apps",
]
