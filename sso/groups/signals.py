"""The signals this package sends (blinker), for subscribers such as outbound provisioning.

Both are sent INSIDE the use case's transaction, after the change is flushed and before it
commits: a receiver may add rows to ``db.session`` (an outbox row, say) that commit together
with the change, or raise to roll the whole change back. The sender is the Flask app.

* ``membership_changed(app, user=User, group=str, change="added" | "removed")``: one user
  joined or left one group (deleting a group sends ``"removed"`` for each of its members).
  :func:`sso.groups.user_groups` gives the user's groups after the change.
* ``group_renamed(app, group_id=int, old_name=str, new_name=str, user_ids=list[int])``: a
  group's name changed, so the group list of each of ``user_ids`` changed too.
"""

from __future__ import annotations

from blinker import Namespace

_signals = Namespace()

membership_changed = _signals.signal("sso.groups.membership-changed")
group_renamed = _signals.signal("sso.groups.group-renamed")
