"""`make run`: the hub on :5000, the invoicing app (Multipass) on :5001 and the helpdesk
(OpenID Connect) on :5002, wired together.

Ports: ``HUB_PORT``, ``INVOICING_PORT`` and ``HELPDESK_PORT`` (``make run HUB_PORT=5100``). A port already in
use stops the demo with a message saying which and what to do, before anything starts.
Everything lives under ``instance/demo/`` (SQLite files, generated keys); delete that
folder to start from scratch. Stop with Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Mapping
from pathlib import Path

from examples.stack import HUB_USERS, REPO, Stack, StackError

DEFAULT_PORTS = {"HUB_PORT": 5000, "INVOICING_PORT": 5001, "HELPDESK_PORT": 5002}


def port_from_env(variable: str, environ: Mapping[str, str]) -> int:
    """The port in ``environ[variable]`` (default from :data:`DEFAULT_PORTS`); StackError if bad."""
    raw = (environ.get(variable) or "").strip()
    if not raw:
        return DEFAULT_PORTS[variable]
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise StackError(f"{variable} must be a port number from 1 to 65535, not {raw!r}")
    return int(raw)


def make_stack(environ: Mapping[str, str]) -> Stack:
    """The demo stack, on the ports the environment names."""
    ports = {variable: port_from_env(variable, environ) for variable in DEFAULT_PORTS}
    if len(set(ports.values())) < len(ports):
        raise StackError(f"{', '.join(f'{k}={v}' for k, v in ports.items())}: give them different ports")
    return Stack(workdir=REPO / "instance" / "demo", hub_port=ports["HUB_PORT"], app_port=ports["INVOICING_PORT"],
                 helpdesk_port=ports["HELPDESK_PORT"], quiet=False)


def main(environ: Mapping[str, str] = os.environ) -> int:
    try:
        stack = make_stack(environ)
        stack.check_ports()  # before anything is set up: say at once what is in the way
    except StackError as err:
        print(f"The demo could not start: {err}", file=sys.stderr)
        return 1
    try:
        print("Setting up the demo (databases, users, connected app, shared secret)...", flush=True)
        stack.provision()
        stack.start()
        print("Reading the invoicing app's users into the pairing table...", flush=True)
        stack.refresh_pairing()
    except StackError as err:
        stack.stop()
        print(f"The demo could not start: {err}", file=sys.stderr)
        return 1
    logins = ", ".join(login for login, *_ in HUB_USERS)
    print(
        f"""
Multipass SSO demo is running.

  Hub (the identity server, named "{stack.brand_name}" in the demo):  {stack.hub_url}/
  Invoicing app (Multipass):                                {stack.app_url}/
  Helpdesk app (OpenID Connect):                            {stack.helpdesk_url}/

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
