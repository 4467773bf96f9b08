"""`make run` (examples/demo.py, examples/stack.py): ports configurable and checked before anything starts."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from examples.demo import make_stack, port_from_env
from examples.stack import REPO, PortBusy, Stack, StackError, check_ports_free, port_is_free
from tests.conftest import free_port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that another program (this socket) listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_listening_port_is_busy_and_a_free_one_is_free(busy_port: int) -> None:
    assert not port_is_free(busy_port)
    assert port_is_free(free_port())


def test_busy_port_is_named_with_what_to_do(busy_port: int) -> None:
    free = free_port()
    with pytest.raises(PortBusy) as caught:
        check_ports_free([("the hub", "HUB_PORT", busy_port), ("the invoicing app", "INVOICING_PORT", free)])
    message = str(caught.value)
    assert f"port {busy_port} on 127.0.0.1 (the hub) is already in use" in message
    assert f"make run HUB_PORT={busy_port + 100}" in message and str(free) not in message


def test_stack_refuses_to_start_on_a_busy_port(busy_port: int, tmp_path: Path) -> None:
    stack = Stack(workdir=tmp_path, hub_port=busy_port, app_port=free_port())
    with pytest.raises(PortBusy):
        stack.start()
    assert stack._processes == []  # nothing was spawned


def test_ports_from_the_environment() -> None:
    assert port_from_env("HUB_PORT", {}) == 5000 and port_from_env("INVOICING_PORT", {"INVOICING_PORT": " "}) == 5001
    assert port_from_env("HUB_PORT", {"HUB_PORT": "5100"}) == 5100
    stack = make_stack({"HUB_PORT": "5100", "INVOICING_PORT": "5101"})
    assert (stack.hub_url, stack.app_url) == ("http://127.0.0.1:5100", "http://127.0.0.1:5101")
    for bad in ("abc", "0", "70000", "-1"):
        with pytest.raises(StackError, match="HUB_PORT must be a port number"):
            port_from_env("HUB_PORT", {"HUB_PORT": bad})
    with pytest.raises(StackError, match="give them different ports"):
        make_stack({"HUB_PORT": "5100", "INVOICING_PORT": "5100"})


def test_make_run_on_a_busy_port_says_so_and_does_not_claim_to_run(busy_port: int) -> None:
    env = {"PATH": "/usr/bin:/bin", "HUB_PORT": str(busy_port), "INVOICING_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "examples.demo"], cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert f"port {busy_port} on 127.0.0.1 (the hub) is already in use" in result.stderr
    assert "HUB_PORT=" in result.stderr
    assert "running" not in result.stdout and "Setting up" not in result.stdout


def test_a_demo_set_up_for_other_ports_is_refused(tmp_path: Path) -> None:
    (tmp_path / "app_url").write_text("http://127.0.0.1:5001\n")
    stack = Stack(workdir=tmp_path, hub_port=free_port(), app_port=free_port())
    with pytest.raises(StackError, match="was set up with the invoicing app at http://127.0.0.1:5001"):
        stack.provision()
