"""Exports of the pairing table: every row, in CSV and JSON, hostile values defused."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .directory_server import TOKEN, scim_user
from .helpers import refresh, set_directory

FIELDS = ["status", "hub_login", "hub_email", "hub_name", "hub_active", "app_login", "app_email", "app_name",
          "app_active", "app_ref", "case_only_difference", "inactive", "group", "hint",
          # the test directory has groups: the department columns follow (tests in test_departments.py)
          "hub_departments", "app_departments", "department_status"]


@pytest.fixture()
def exported(demo_hub, base_url, directories):  # type: ignore[no-untyped-def]
    directories.users = [
        scim_user(1, userName="ann", emails=[{"value": "ann@example.com"}]),
        scim_user(2, userName="bob", emails=[{"value": "bob@old.example"}], active=False),
        scim_user(3, userName="=HYPERLINK(\"http://evil\")", emails=[{"value": "+evil@example.com"}]),
    ]
    set_directory(demo_hub, "scim", f"{base_url}/scim", TOKEN)
    refresh(demo_hub)
    return demo_hub


def test_json_export(exported, admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/admin/pairing/invoices.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = json.loads(response.get_data(as_text=True))
    assert len(rows) == 7 and all(list(r) == FIELDS for r in rows)
    by_status = {}
    for r in rows:
        by_status.setdefault(r["status"], []).append(r)
    (bob,) = by_status["email_mismatch"]
    assert (bob["hub_email"], bob["app_email"], bob["app_active"], bob["inactive"]) == (
        "bob@example.com", "bob@old.example", False, True)
    assert "Change the e-mail of bob" in bob["hint"]
    missing = {r["hub_login"] for r in by_status["missing_in_app"]}
    assert missing == {"admin", "carol", "dave", "erin"}
    assert all(r["app_login"] is None and r["app_email"] is None for r in by_status["missing_in_app"])
    (evil,) = by_status["missing_in_hub"]
    assert evil["app_login"] == '=HYPERLINK("http://evil")' and evil["hub_login"] is None
    only = json.loads(admin_client.get("/admin/pairing/invoices.json?status=paired").get_data(as_text=True))
    assert [r["hub_login"] for r in only] == ["ann"]


def test_csv_export(exported, admin_client) -> None:  # type: ignore[no-untyped-def]
    response = admin_client.get("/admin/pairing/invoices.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 7 and list(rows[0]) == FIELDS
    evil = next(r for r in rows if r["status"] == "missing_in_hub")
    assert evil["app_login"] == "'=HYPERLINK(\"http://evil\")"  # no formula in a spreadsheet
    assert evil["app_email"] == "'+evil@example.com" and evil["hub_login"] == ""
    bob = next(r for r in rows if r["status"] == "email_mismatch")
    assert (bob["hub_login"], bob["app_active"], bob["inactive"]) == ("bob", "false", "true")
