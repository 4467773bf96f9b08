"""``flask --app wsgi pairing ...`` (and ``apps set-directory``): configure, refresh, report."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext

from sso.base.cli import HubGroup, reported
from sso.connected_apps.service import get_app

from . import display, provisioning, service
from .errors import PairingError
from .matching import Status
from .sources import SOURCE_KINDS

#: The commands report a HubError or a PairingError as ``Error: <message>`` (sso.base.cli).
pairing = HubGroup("pairing", help="Pair hub users with a connected app's users.", reported=(PairingError,))
MAX_FILE = 64 * 1024 * 1024


@click.command("set-directory")
@with_appcontext
@click.argument("slug")
@click.option("--type", "kind", required=True, type=click.Choice(SOURCE_KINDS), help="Directory type.")
@click.option("--url", default=None, help="SCIM base URL or JSON list URL (not for csv).")
@click.option("--token-stdin", is_flag=True, help="Read the directory token from standard input.")
@reported(PairingError)  # added to the hub's ``apps`` group, which knows only HubError
def set_directory_command(slug: str, kind: str, url: str | None, token_stdin: bool) -> None:
    """Set where SLUG's users are fetched from (the token is stored encrypted)."""
    token = sys.stdin.readline().rstrip("\r\n") if token_stdin else None
    app = get_app(slug)
    setting = service.set_directory(app, kind, url, token, actor="cli")
    where = f" at {display.visible(setting.url, 200)}" if setting.url else ""
    click.echo(f"Directory of {app.slug}: {setting.kind}{where}.")


pairing.add_command(set_directory_command)


@pairing.command("refresh")
@click.argument("slug")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path), help="CSV file for a csv directory.")
@reported(PairingError, OSError, prefix="Refresh failed: ")
def refresh_command(slug: str, path: Path | None) -> None:
    """Fetch SLUG's users now and store them as the snapshot."""
    data = None
    if path is not None:
        if not path.is_file() or path.stat().st_size > MAX_FILE:
            raise click.ClickException(f"{path} is not a readable file of at most 64 MB.")
        data = path.read_bytes()
    app = get_app(slug)
    snapshot = service.refresh(app, data=data, actor="cli")
    click.echo(f"Snapshot of {app.slug}: {snapshot.user_count} users.")


@pairing.command("report")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--status", default=None, type=click.Choice([s.value for s in Status]), help="Only this status.")
def report_command(slug: str, fmt: str, status: str | None) -> None:
    """Print SLUG's pairing table (JSON rows: status, hub_login, hub_email, app_login, app_email, hint, ...)."""
    app = get_app(slug)
    rows = service.report(app)
    rows = display.select_rows(rows, display.parse_status(status))
    if fmt == "json":
        click.echo(display.to_json(rows, service.department_index(app)))
    elif fmt == "csv":
        click.echo(display.to_csv(rows, service.department_index(app)), nl=False)
    else:
        click.echo(display.to_table(rows))


provisioning_cli = HubGroup(
    "provisioning", help="Push hub user changes to the apps whose directory is SCIM.", reported=(PairingError,)
)


@provisioning_cli.command("run")
@click.option("--once", is_flag=True, help="One pass over the due rows, then exit.")
def run_command(once: bool) -> None:
    """Deliver the outbox until stopped (Ctrl-C or SIGTERM); a killed worker loses nothing."""
    import signal
    import threading

    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        provisioning.Worker().run(stop=stop, once=once)
    except KeyboardInterrupt:
        pass


@provisioning_cli.command("status")
@click.argument("slug")
def status_command(slug: str) -> None:
    """Pending and failed changes, last sync and last error of SLUG."""
    state = provisioning.app_status(get_app(slug))
    click.echo(f"provisioning: {'on (SCIM directory)' if state.enabled else 'off (no SCIM directory)'}")
    click.echo(f"pending: {state.pending}  failed: {state.failed}")
    click.echo(f"last sync: {state.last_sync_at or 'never'}")
    if state.last_error:
        click.echo(f"last error ({state.last_error_at}): {display.visible(state.last_error, 300)}")


@provisioning_cli.command("retry")
@click.argument("slug")
def retry_command(slug: str) -> None:
    """Queue SLUG's failed changes again (after fixing what the app refused)."""
    count = provisioning.retry_failed(get_app(slug), actor="cli")
    click.echo(f"{count} change(s) queued again.")
