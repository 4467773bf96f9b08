"""`make run`: the hub on :5000, the invoicing app (Multipass) on :5001 and the helpdesk
(OpenID Connect) on :5002, wired together.

Everything lives under ``instance/demo/`` (SQLite files, generated keys); delete that
folder to start from scratch. Stop with Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

from examples.stack import HUB_USERS, REPO, Stack, StackError


def main() -> int:
    stack = Stack(workdir=REPO / "instance" / "demo", quiet=False)
    try:
        print("Setting up the demo (databases, users, connected app, shared secret)...", flush=True)
        stack.provision()
        stack.start()
    except StackError as err:
        stack.stop()
        print(f"The demo could not start: {err}", file=sys.stderr)
        return 1
    logins = ", ".join(login for login, *_ in HUB_USERS)
    print(
        f"""
Multipass SSO demo is running.

  Hub (identity server):   {stack.hub_url}/
  Invoicing app:           {stack.app_url}/      (Multipass)
  Helpdesk app:            {stack.helpdesk_url}/      (OpenID Connect)

Log in at the hub as any of: {logins}
Password for all of them:  {stack.password}   ("admin" also sees the admin pages)

Then:
  - click "Invoices" in the top menu: you land in the invoicing app, signed in, no second login;
  - click "CRM" there to come back;
  - click "Helpdesk" in the hub's top menu: the helpdesk signs you in with OpenID Connect;
    "Log out" there logs you out of the hub too, and logging out at the hub ends the
    helpdesk session (back-channel logout);
  - open {stack.app_url}/invoices in a private window: its login is diverted to the hub;
  - as admin, open Connected apps > Invoices > Pairing to see who is paired and who is not
    (bob, carol, dave and frank are not, on purpose).

Data and keys: {Path(stack.workdir).relative_to(REPO)}/ (delete it to start again). Ctrl-C stops.
""",
        flush=True,
    )
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        print("Stopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
