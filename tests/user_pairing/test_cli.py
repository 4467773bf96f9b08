"""``flask pairing ...`` and ``flask apps set-directory``: configure, refresh, report."""

from __future__ import annotations

import csv
import io
import json

from tests.conftest import free_port

from .conftest import INVOICING_SCIM_TOKEN
from .directory_server import TOKEN


def test_set_directory_refresh_and_report_against_the_invoicing_app(demo_hub, invoicing_scim) -> None:  # type: ignore[no-untyped-def]
    runner = demo_hub.test_cli_runner()
    result = runner.invoke(args=["apps", "set-directory", "invoices", "--type", "scim", "--url", invoicing_scim,
                                 "--token-stdin"], input=INVOICING_SCIM_TOKEN + "\n")
    assert result.exit_code == 0, result.output
    assert INVOICING_SCIM_TOKEN not in result.output
    result = runner.invoke(args=["pairing", "refresh", "invoices"])
    assert result.exit_code == 0, result.output
    assert "Snapshot of invoices: 6 users." in result.output

    rows = json.loads(runner.invoke(args=["pairing", "report", "invoices", "--format", "json"]).output)
    assert len(rows) == 7
    assert {k for k in ("status", "hub_login", "hub_email", "app_login", "app_email", "hint")} <= set(rows[0])
    status = {(r["hub_login"] or r["app_login"]): r["status"] for r in rows}
    assert status == {"admin": "paired", "ann": "paired", "erin": "paired", "bob": "email_mismatch",
                      "carol": "login_mismatch", "dave": "missing_in_app", "frank": "missing_in_hub"}
    frank = next(r for r in rows if r["status"] == "missing_in_hub")
    assert frank["hub_login"] is None and frank["hub_email"] is None

    out = runner.invoke(args=["pairing", "report", "invoices", "--format", "csv"]).output
    parsed = list(csv.DictReader(io.StringIO(out)))
    assert len(parsed) == 7 and parsed[0]["status"] == "email_mismatch"

    table = runner.invoke(args=["pairing", "report", "invoices"]).output.splitlines()
    assert table[0].split()[:5] == ["status", "hub_login", "hub_email", "app_login", "app_email"]
    assert len(table) == 8 and any(line.startswith("missing_in_hub") and "frank" in line for line in table)
    only = runner.invoke(args=["pairing", "report", "invoices", "--format", "json", "--status", "paired"]).output
    assert len(json.loads(only)) == 3


def test_pairing_set_directory_alias_as_the_demo_stack_calls_it(demo_hub, base_url) -> None:  # type: ignore[no-untyped-def]
    runner = demo_hub.test_cli_runner()
    result = runner.invoke(args=["pairing", "set-directory", "invoices", "--type", "scim", "--url", f"{base_url}/scim",
                                 "--token-stdin"], input=TOKEN + "\n")
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["pairing", "refresh", "invoices"])
    assert result.exit_code == 0 and "7 users" in result.output


def test_csv_refresh_with_a_file(demo_hub, tmp_path) -> None:  # type: ignore[no-untyped-def]
    runner = demo_hub.test_cli_runner()
    assert runner.invoke(args=["pairing", "set-directory", "invoices", "--type", "csv"]).exit_code == 0
    path = tmp_path / "users.csv"
    path.write_text("login,email,name\nann,ann@example.com,Ann\nzoe,zoe@example.com,\n", encoding="utf-8")
    result = runner.invoke(args=["pairing", "refresh", "invoices", "--file", str(path)])
    assert result.exit_code == 0 and "2 users" in result.output
    rows = json.loads(runner.invoke(args=["pairing", "report", "invoices", "--format", "json"]).output)
    assert sum(r["status"] == "paired" for r in rows) == 1
    result = runner.invoke(args=["pairing", "refresh", "invoices"])
    assert result.exit_code == 1 and "needs an uploaded file" in result.output
    result = runner.invoke(args=["pairing", "refresh", "invoices", "--file", str(tmp_path / "nope.csv")])
    assert result.exit_code != 0 and "nope.csv" in result.output


def test_errors_are_clear_and_exit_non_zero(demo_hub, base_url) -> None:  # type: ignore[no-untyped-def]
    runner = demo_hub.test_cli_runner()
    cases = [
        (["pairing", "refresh", "nope"], "No connected app"),
        (["pairing", "report", "nope"], "No connected app"),
        (["pairing", "refresh", "invoices"], "No user directory is configured"),
        (["apps", "set-directory", "invoices", "--type", "scim", "--url", "ftp://x", "--token-stdin"], "http://"),
        (["apps", "set-directory", "invoices", "--type", "scim", "--url", f"{base_url}/scim"], "needs a token"),
        (["apps", "set-directory", "invoices", "--type", "ldap"], "Invalid value"),
        (["pairing", "report", "invoices", "--format", "xml"], "Invalid value"),
    ]
    for args, message in cases:
        result = runner.invoke(args=args, input="tok\n")
        assert result.exit_code != 0, args
        assert message in result.output, (args, result.output)
    runner.invoke(args=["apps", "set-directory", "invoices", "--type", "scim", "--url",
                        f"http://127.0.0.1:{free_port()}/scim", "--token-stdin"], input="tok\n")
    result = runner.invoke(args=["pairing", "refresh", "invoices"])
    assert result.exit_code == 1 and "Refresh failed: Could not connect" in result.output
    assert "Traceback" not in result.output


def test_table_output_makes_control_characters_visible(demo_hub, base_url, directories) -> None:  # type: ignore[no-untyped-def]
    from .directory_server import scim_user

    directories.users = [scim_user(1, userName="evil\x1b]0;title\x07", emails=[{"value": "e@x.io"}])]
    runner = demo_hub.test_cli_runner()
    runner.invoke(args=["pairing", "set-directory", "invoices", "--type", "scim", "--url", f"{base_url}/scim",
                        "--token-stdin"], input=TOKEN + "\n")
    assert runner.invoke(args=["pairing", "refresh", "invoices"]).exit_code == 0
    out = runner.invoke(args=["pairing", "report", "invoices"]).output
    assert "\x1b" not in out and "\x07" not in out and "evil\\x1b]0;title\\x07" in out
