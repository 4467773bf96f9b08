"""Provision and run the whole demo stack: the hub, the reference invoicing app (Multipass)
and the helpdesk (OpenID Connect), wired.

Used by ``make run`` (through :mod:`examples.demo`) on ports 5000/5001/5002, and by the
end-to-end and multi-instance tests on free loopback ports. Everything goes through the
public command lines (``flask --app wsgi ...``), exactly as IT would do it by hand.
"""

from __future__ import annotations

import errno
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"

#: Demo users of the hub: (login, e-mail, name, admin). The invoicing app's demo data
#: mirrors them with deliberate trouble (see examples/invoicing): bob has another e-mail
#: there, carol is "caroline" there, dave is missing there, frank exists only there.
HUB_USERS: tuple[tuple[str, str, str, bool], ...] = (
    ("admin", "admin@example.com", "Ada Admin", True),
    ("ann", "ann@example.com", "Ann Archer", False),
    ("bob", "bob@example.com", "Bob Baker", False),
    ("carol", "carol@example.com", "Carol Cooper", False),
    ("dave", "dave@example.com", "Dave Dunn", False),
    ("erin", "erin@example.com", "Erin Evans", False),
)
APP_SLUG = "invoices"
HELPDESK_SLUG = "helpdesk"


class StackError(RuntimeError):
    """A step of provisioning or start-up failed; the message says which."""


class PortBusy(StackError):
    """A port the stack needs is taken by another program."""


def port_is_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on ``host:port`` (a port in TIME_WAIT counts as free,
    as it does for the servers, which also bind with SO_REUSEADDR)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def check_ports_free(ports: Sequence[tuple[str, str, int]], host: str = HOST) -> None:
    """Raise :class:`PortBusy` naming each ``(what, variable, port)`` that is taken, and how
    to choose another port (``make run HUB_PORT=...``)."""
    busy = [(what, variable, port) for what, variable, port in ports if not port_is_free(port, host)]
    if busy:
        lines = [f"port {port} on {host} ({what}) is already in use by another program" for what, _v, port in busy]
        hint = " ".join(f"{variable}={port + 100}" for _w, variable, port in busy)
        raise PortBusy(
            "; ".join(lines) + ".\nStop that program (an earlier `make run` still running?), "
            f"or choose free ports, e.g. `make run {hint}`."
        )


@dataclass
class Stack:
    """The hub and the invoicing app, on their own databases under ``workdir``."""

    workdir: Path
    hub_port: int = 5000
    app_port: int = 5001
    helpdesk_port: int = 5002
    password: str = "demo-password"
    hub_database_url: str | None = None
    app_database_url: str | None = None
    redis_url: str | None = None
    multipass_max_age: int | None = None
    hub_workers: int = 1
    quiet: bool = True
    #: The hub's name on its pages. The invoicing app's button back to the hub says "CRM",
    #: so in the demo the hub is called that too: the button lands on a page titled "CRM".
    brand_name: str = "CRM"
    #: More settings of the hub (``SSO_*`` variables), e.g. login limits for a test.
    hub_settings: dict[str, str] = field(default_factory=dict)
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    scim_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    # -- addresses ------------------------------------------------------------------

    @property
    def hub_url(self) -> str:
        return f"http://{HOST}:{self.hub_port}"

    @property
    def app_url(self) -> str:
        return f"http://{HOST}:{self.app_port}"

    @property
    def helpdesk_url(self) -> str:
        return f"http://{HOST}:{self.helpdesk_port}"

    # -- environments ---------------------------------------------------------------

    def _keys(self) -> dict[str, str]:
        """Keys kept in the workdir so a restarted demo keeps its sessions and secrets."""
        path = self.workdir / "keys.env"
        if not path.exists():
            values = {
                "SSO_SECRET_KEY": secrets.token_urlsafe(32),
                "SSO_APP_SECRETS_KEY": Fernet.generate_key().decode(),
                "INVOICING_SECRET_KEY": secrets.token_urlsafe(32),
                "MULTIPASS_SECRET": self.secret,
                "SCIM_TOKEN": self.scim_token,
            }
            path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
            path.chmod(0o600)
        values = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
        extra = {"HELPDESK_SECRET_KEY": secrets.token_urlsafe(32), "HELPDESK_CLIENT_SECRET": secrets.token_urlsafe(32)}
        if any(key not in values for key in extra):  # a demo folder from before the helpdesk
            values = {**extra, **values}
            path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
        self.secret, self.scim_token = values["MULTIPASS_SECRET"], values["SCIM_TOKEN"]
        return values

    def hub_env(self) -> dict[str, str]:
        keys = self._keys()
        env = dict(os.environ)
        env.update(
            SSO_DATABASE_URL=self.hub_database_url or f"sqlite:///{self.workdir / 'hub.sqlite'}",
            SSO_SECRET_KEY=keys["SSO_SECRET_KEY"],
            SSO_APP_SECRETS_KEY=keys["SSO_APP_SECRETS_KEY"],
            # Links (set-password) are built from it, and the hub answers only to its host.
            SSO_BASE_URL=self.hub_url,
            SSO_BRAND_NAME=self.brand_name,
            FLASK_APP="wsgi",
        )
        env.update(self.hub_settings)
        if self.redis_url:
            env["SSO_REDIS_URL"] = self.redis_url
        return env

    def app_env(self) -> dict[str, str]:
        keys = self._keys()
        env = dict(os.environ)
        env.update(
            INVOICING_DATABASE_URL=self.app_database_url or f"sqlite:///{self.workdir / 'invoicing.sqlite'}",
            INVOICING_SECRET_KEY=keys["INVOICING_SECRET_KEY"],
            INVOICING_MULTIPASS_SECRETS=self.secret,
            INVOICING_HUB_URL=self.hub_url,
            INVOICING_HUB_APP_SLUG=APP_SLUG,
            INVOICING_SCIM_TOKEN=self.scim_token,
        )
        if self.redis_url:
            env["INVOICING_REDIS_URL"] = self.redis_url
        if self.multipass_max_age is not None:
            env["INVOICING_MULTIPASS_MAX_AGE"] = str(self.multipass_max_age)
        return env

    def helpdesk_env(self) -> dict[str, str]:
        keys = self._keys()
        env = dict(os.environ)
        env.update(
            HELPDESK_HUB_URL=self.hub_url, HELPDESK_CLIENT_ID=HELPDESK_SLUG,
            HELPDESK_CLIENT_SECRET=keys["HELPDESK_CLIENT_SECRET"], HELPDESK_BASE_URL=self.helpdesk_url,
            HELPDESK_SECRET_KEY=keys["HELPDESK_SECRET_KEY"], HELPDESK_DATA=str(self.workdir / "helpdesk"),
        )
        return env

    # -- provisioning ---------------------------------------------------------------

    def _run(self, args: Sequence[str], env: dict[str, str], stdin: str | None = None) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flask", *args],
            cwd=REPO,
            env=env,
            input=stdin.encode() if stdin is not None else None,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(
                f"`flask {' '.join(args)}` failed ({result.returncode}):\n"
                f"{result.stdout.decode(errors='replace')}{result.stderr.decode(errors='replace')}"
            )
        return result.stdout.decode(errors="replace")

    def _hub_has_app(self, env: dict[str, str], slug: str = APP_SLUG) -> bool:
        listing = self._run(["--app", "wsgi", "apps", "list"], env)
        return any(line.split()[:1] == [slug] for line in listing.splitlines())

    def provision(self) -> None:
        """Create both databases, the demo users, the connected app and its shared secret.

        Idempotent: a second run leaves an existing demo as it is. The hub stores the
        invoicing app's address, so a demo set up for other ports is refused (StackError).
        """
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._check_same_address()
        hub = self.hub_env()
        self._run(["--app", "wsgi", "db", "upgrade"], hub)
        if not self._hub_has_app(hub):
            for login, email, name, admin in HUB_USERS:
                args = ["--app", "wsgi", "users", "create", login, email, "--name", name, "--password-stdin"]
                self._run(args + (["--admin"] if admin else []), hub, stdin=self.password + "\n")
            self._run(
                [
                    "--app", "wsgi", "apps", "add", APP_SLUG,
                    "--name", "Invoices",
                    "--login-url", f"{self.app_url}/login/multipass/{{token}}",
                    "--origin", self.app_url,
                    "--logout-url", f"{self.app_url}/logout/frontchannel",
                    "--login-url-allowed", f"{self.app_url}/login",
                    "--secret-stdin",
                ],
                hub,
                stdin=self.secret + "\n",
            )
            self._run(
                [
                    "--app", "wsgi", "pairing", "set-directory", APP_SLUG,
                    "--type", "scim", "--url", f"{self.app_url}/scim/v2", "--token-stdin",
                ],
                hub,
                stdin=self.scim_token + "\n",
            )
        # Also for a demo made before login URLs were registered (the upgrade registers none
        # for a {token}-in-the-path template): the app diverts its logins to /login.
        self._run(["--app", "wsgi", "apps", "set-login-urls", APP_SLUG, f"{self.app_url}/login"], hub)
        if not self._hub_has_app(hub, HELPDESK_SLUG):
            self._run(
                [
                    "--app", "wsgi", "apps", "add", HELPDESK_SLUG, "--name", "Helpdesk", "--protocol", "oidc",
                    "--redirect-uri", f"{self.helpdesk_url}/callback",
                    "--post-logout-redirect-uri", f"{self.helpdesk_url}/signed-out",
                    "--backchannel-logout-uri", f"{self.helpdesk_url}/backchannel-logout",
                    "--initiate-login-uri", f"{self.helpdesk_url}/login",
                    "--secret-stdin",
                ],
                hub,
                stdin=self._keys()["HELPDESK_CLIENT_SECRET"] + "\n",
            )
        self._run(["--app", "examples.invoicing", "seed-demo"], self.app_env())

    def _check_same_address(self) -> None:
        path = self.workdir / "app_url"
        if path.exists() and path.read_text().strip() != self.app_url:
            raise StackError(
                f"{self.workdir} was set up with the invoicing app at {path.read_text().strip()}, "
                f"not {self.app_url}: use that port again, or delete {self.workdir} to start afresh."
            )
        path.write_text(self.app_url + "\n")

    def refresh_pairing(self) -> str:
        """Fetch the invoicing app's users into the hub's pairing snapshot (needs both running)."""
        return self._run(["--app", "wsgi", "pairing", "refresh", APP_SLUG], self.hub_env())

    # -- processes ------------------------------------------------------------------

    def _spawn(self, app: str, port: int, env: dict[str, str], workers: int) -> None:
        out = subprocess.DEVNULL if self.quiet else None
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn", app,
                "--bind", f"{HOST}:{port}",
                "--workers", str(workers), "--threads", "4",
                "--graceful-timeout", "2", "--log-level", "warning",
            ],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=out,
        )
        self._processes.append(process)

    def _spawn_provisioning(self) -> None:
        """The hub's provisioning worker: pushes user changes to the invoicing app's SCIM directory."""
        out = subprocess.DEVNULL if self.quiet else None
        self._processes.append(
            subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "provisioning", "run"],
                cwd=REPO, env=self.hub_env(), stdout=out, stderr=out,
            )
        )

    def check_ports(self) -> None:
        """Raise :class:`PortBusy` when the hub's or the invoicing app's port is taken."""
        check_ports_free([
            ("the hub", "HUB_PORT", self.hub_port), ("the invoicing app", "INVOICING_PORT", self.app_port),
            ("the helpdesk app", "HELPDESK_PORT", self.helpdesk_port),
        ])

    def start(self) -> None:
        """Start the three servers under gunicorn and wait until they answer, then the
        provisioning worker.

        Refuses to start (:class:`PortBusy`) when a port is taken: otherwise the health check
        could be answered by whatever holds the port while our server has died."""
        self.check_ports()
        self._spawn("wsgi:app", self.hub_port, self.hub_env(), self.hub_workers)
        self._spawn("examples.invoicing.wsgi:app", self.app_port, self.app_env(), 1)
        self._spawn("examples.helpdesk.wsgi:app", self.helpdesk_port, self.helpdesk_env(), 1)
        wait_until_up(f"{self.hub_url}/healthz", self._processes[0])
        wait_until_up(f"{self.app_url}/healthz", self._processes[1])
        wait_until_up(f"{self.helpdesk_url}/healthz", self._processes[2])
        self._spawn_provisioning()

    def stop(self) -> None:
        stop_processes(self._processes)

    def __enter__(self) -> Stack:
        self.provision()
        self.start()
        try:
            self.refresh_pairing()
        except StackError:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def postgres_schema(base_url: str, prefix: str = "t_") -> Iterator[str]:
    """A fresh PostgreSQL schema on ``base_url``, dropped afterwards; yields a URL using it.

    For tests and benchmarks that need an empty PostgreSQL database of their own.
    Raises ``sqlalchemy.exc.OperationalError`` when the server is unreachable.
    """
    import sqlalchemy as sa

    engine = sa.create_engine(base_url)
    schema = prefix + secrets.token_hex(6)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in base_url else "?"
        try:
            yield f"{base_url}{sep}options=-csearch_path%3D{schema}"
        finally:
            with engine.begin() as conn:
                conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    finally:
        engine.dispose()


def stop_processes(processes: list[subprocess.Popen[bytes]]) -> None:
    """Terminate ``processes`` (killing the ones that hang) and empty the list."""
    for process in processes:
        if process.poll() is None:
            process.terminate()
    for process in processes:
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    processes.clear()


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Poll ``url`` until it answers 200; fail early if the process died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"the server for {url} exited with code {process.returncode}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise StackError(f"{url} did not answer within {timeout:.0f} s")
