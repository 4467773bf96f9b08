"""Deployment fixtures: real hub instances under gunicorn, provisioned through the CLI.

Each instance is a separate ``gunicorn wsgi:app`` process on its own free loopback port.
They share what a load balancer deployment shares: one database, one Redis, the same
``SSO_SECRET_KEY`` (sessions) and ``SSO_APP_SECRETS_KEY`` (encrypted app secrets).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from examples.stack import HOST, REPO, stop_processes, wait_until_up


class DeployError(RuntimeError):
    """A CLI step or a server start failed; the message carries its output."""


def flask_cli(args: Sequence[str], env: Mapping[str, str], stdin: str | None = None) -> str:
    """Run ``python -m flask --app wsgi ARGS`` in the repository; return its output."""
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", *args],
        cwd=REPO,
        env=dict(env),
        input=stdin.encode() if stdin is not None else None,
        capture_output=True,
        timeout=120,
        check=False,
    )
    output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
    if result.returncode != 0:
        raise DeployError(f"`flask {' '.join(args)}` exited with {result.returncode}:\n{output}")
    return output


@dataclass
class HubInstances:
    """Several gunicorn processes serving the same hub configuration."""

    env: dict[str, str]
    ports: Sequence[int]
    log_dir: Path
    workers: int = 1
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def url(self, index: int) -> str:
        return f"http://{HOST}:{self.ports[index]}"

    def start(self) -> None:
        """Start one gunicorn per port and wait until each answers /healthz."""
        for port in self.ports:
            log = (self.log_dir / f"gunicorn-{port}.log").open("wb")
            try:
                process = subprocess.Popen(
                    [
                        sys.executable, "-m", "gunicorn", "wsgi:app",
                        "--bind", f"{HOST}:{port}",
                        "--workers", str(self.workers), "--threads", "4",
                        "--graceful-timeout", "2", "--log-level", "warning",
                    ],
                    cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                )
            finally:
                log.close()  # the child keeps its own descriptor
            self._processes.append(process)
        for index, process in enumerate(self._processes):
            wait_until_up(f"{self.url(index)}/healthz", process)

    def stop(self) -> None:
        """Terminate every process this object started, killing the ones that hang."""
        stop_processes(self._processes)

    def logs(self) -> str:
        """Everything the instances wrote, for failure messages."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}" for path in sorted(self.log_dir.glob("*.log"))
        )


def running(instances: HubInstances) -> Iterator[HubInstances]:
    """Start ``instances``, yield them, and stop them whatever happens."""
    try:
        instances.start()
        yield instances
    finally:
        instances.stop()
