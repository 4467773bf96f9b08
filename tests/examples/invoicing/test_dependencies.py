"""The reference app depends on the hub's pure core only, never on the hub itself.

A connected app copies this example, so it may use :mod:`sso.multipass` and the pure base
modules (identity, redirects, errors) and nothing else of ``sso``: not the hub's app
factory, models, database, extensions or plugins. A fresh interpreter imports every module
of the app and builds one, then reports which modules got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]

#: Everything of the hub's code the app may load (a module or a package and its modules).
ALLOWED = ("sso", "sso.multipass", "sso.base", "sso.base.identity", "sso.base.redirects", "sso.base.errors")
#: Named explicitly so a failure reads plainly; the allow-list above already excludes them.
FORBIDDEN = (
    "sso.app", "sso.accounts", "sso.connected_apps", "sso.audit", "sso.base.db", "sso.base.extensions",
    "sso.base.access", "sso.base.context", "user_pairing",
)

PROBE = """
import importlib, json, pkgutil, sys, tempfile

import examples.invoicing as package

for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
    if info.name != "examples.invoicing.wsgi":  # builds an app from the environment
        importlib.import_module(info.name)
with tempfile.TemporaryDirectory() as tmp:
    app = package.create_app({
        "TESTING": True, "MULTIPASS_SECRETS": ["a-secret-of-sixteen-chars"], "HUB_URL": "http://127.0.0.1:5000",
        "DATABASE_URL": "sqlite:///" + tmp + "/app.sqlite3", "SECRET_KEY": "x" * 32, "INSTANCE_PATH": tmp,
    })
    app.test_client().get("/login?return_to=/invoices")
print(json.dumps(sorted(sys.modules)))
"""


def _loaded_modules() -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    names: list[str] = json.loads(result.stdout.splitlines()[-1])
    return names


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_only_the_pure_core_of_the_hub_is_loaded() -> None:
    loaded = _loaded_modules()
    # The probe really ran the app: its own modules and the shared rules are there.
    for needed in ("examples.invoicing.auth", "examples.invoicing.scim.views", "sso.multipass",
                   "sso.base.identity", "sso.base.redirects"):
        assert needed in loaded
    assert [name for name in loaded if any(_within(name, bad) for bad in FORBIDDEN)] == []
    hub_modules = [name for name in loaded if _within(name, "sso") or _within(name, "user_pairing")]
    outside = [
        name for name in hub_modules
        if name not in ALLOWED and not _within(name, "sso.multipass")
    ]
    assert outside == []
