"""Benchmark of full OpenID Connect code flows: the hub under gunicorn against panva's
``oidc-provider`` (a script, not a test).

Run: ``.venv/bin/python bench/bench_oidc.py`` (``--quick`` for a short run that leaves
bench/README-oidc.md alone; ``--clients N``, ``--seconds S``, ``--rounds R``).

One flow is what a relying party does for each sign-in of a user who is already logged in
at the provider: ``GET /authorize`` with the provider's session cookie (PKCE S256 with a
fresh verifier, state and nonce) -> 302 with a code; ``POST /token`` (client_secret_basic,
the code, the verifier) -> access token and ID token; ``GET /userinfo`` with the bearer
token. Every response is checked. 16 client threads, each on its own keep-alive
connections, run flows for a fixed time per round; rounds alternate hub and peer.

* The hub: provisioned through its CLI on a fresh SQLite file (``db upgrade``, ``users
  create``, ``apps add --protocol oidc``), ``gunicorn wsgi:app`` with 2 gthread workers of
  4 threads (as bench_jump.py), one login for the session cookie.
* The peer: ``oidc-provider`` (npm), installed by this script into a temporary folder with
  ``npm install`` (never a dependency of the project), one node process (its normal
  deployment unit; node runs JavaScript on one thread), its in-memory adapter, the same
  client (client_secret_basic, PKCE required, RS256 ID tokens, same scopes and lifetimes);
  one interactive login and consent through its development interactions give the cookie.

Also timed in-process: signing one ID token with RS256 and with ES256 (joserfc, the hub's
keys' types), best of 5 x 300.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.client
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_jump import (  # noqa: E402
    HOST,
    PASSWORD,
    USER_AGENT,
    flask_cli,
    free_port,
    gunicorn,
    login,
    workers_cpu_seconds,
)

from examples.stack import stop_processes  # noqa: E402

CLIENT_ID = "bench"
REDIRECT = "http://127.0.0.1:9/cb"  # never contacted: only the redirects are read
PEER_VERSION = "9.13.3"
TARGET_RATIO, TARGET_P99_MS = 1.0, 50.0
SCOPE = "openid profile email"


@dataclass
class Server:
    name: str
    port: int
    cookie: str
    secret: str
    authorize: str
    token: str
    userinfo: str
    cpu_seconds: Callable[[], float]  # CPU used so far by the server's processes


def process_cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) used so far by one process, from /proc (Linux)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / tick


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Flow:
    """One client thread's connection and one full flow on it."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.conn = http.client.HTTPConnection(HOST, server.port, timeout=15)
        basic = base64.b64encode(f"{CLIENT_ID}:{server.secret}".encode()).decode()
        self.token_headers = {"Authorization": f"Basic {basic}", "User-Agent": USER_AGENT,
                              "Content-Type": "application/x-www-form-urlencoded"}

    def _call(self, method: str, path: str, body: str | None = None, headers: dict[str, str] | None = None
              ) -> http.client.HTTPResponse:
        try:
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.server.port, timeout=15)
            self.conn.request(method, path, body=body, headers=headers or {})
            response = self.conn.getresponse()
        response.read()
        if response.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, self.server.port, timeout=15)
        return response

    def run(self) -> bool:
        server = self.server
        verifier, challenge = pkce()
        state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        query = urlencode({"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                           "scope": SCOPE, "state": state, "nonce": nonce, "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        response = self._call("GET", f"{server.authorize}?{query}",
                              headers={"Cookie": server.cookie, "User-Agent": USER_AGENT})
        location = response.getheader("Location") or ""
        params = parse_qs(urlsplit(location).query)
        if not location.startswith(REDIRECT) or params.get("state") != [state] or "code" not in params:
            return False
        body = urlencode({"grant_type": "authorization_code", "code": params["code"][0],
                          "redirect_uri": REDIRECT, "code_verifier": verifier})
        self.conn.request("POST", server.token, body=body, headers=self.token_headers)
        token_response = self.conn.getresponse()
        token = json.loads(token_response.read() or b"{}")
        if token_response.will_close:
            self.conn.close()
            self.conn = http.client.HTTPConnection(HOST, server.port, timeout=15)
        if token_response.status != 200 or "id_token" not in token:
            return False
        info = self._call("GET", server.userinfo, headers={"Authorization": f"Bearer {token['access_token']}"})
        return info.status == 200


@dataclass
class Result:
    flows: int
    errors: int
    seconds: float
    latencies: list[float]
    cpu_ms: float = float("nan")  # server CPU per flow

    @property
    def rate(self) -> float:
        return self.flows / self.seconds

    def p(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else float("nan")


def load(server: Server, clients: int, seconds: float) -> Result:
    barrier = threading.Barrier(clients + 1)
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    stop_at = [0.0]

    def client(index: int) -> None:
        flow = Flow(server)
        own, perf = latencies[index], time.perf_counter
        barrier.wait()
        try:
            while perf() < stop_at[0]:
                start = perf()
                try:
                    ok = flow.run()
                except (OSError, http.client.HTTPException, ValueError):
                    ok = False
                if ok:
                    own.append(perf() - start)
                else:
                    errors[index] += 1
        finally:
            flow.conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    cpu_before = server.cpu_seconds()
    start = time.perf_counter()
    stop_at[0] = start + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    merged = [x for own in latencies for x in own]
    result = Result(len(merged), sum(errors), time.perf_counter() - start, merged)
    result.cpu_ms = (server.cpu_seconds() - cpu_before) / max(result.flows, 1) * 1000
    return result


# -- the two servers ---------------------------------------------------------------------------


@contextmanager
def hub(workdir: Path) -> Iterator[Server]:
    from cryptography.fernet import Fernet

    port = free_port()
    env = {
        "PATH": "/usr/bin:/bin", "SSO_DATABASE_URL": f"sqlite:///{workdir / 'hub.sqlite3'}",
        "SSO_SECRET_KEY": secrets.token_urlsafe(32), "SSO_APP_SECRETS_KEY": Fernet.generate_key().decode(),
        "SSO_INSTANCE_PATH": str(workdir / "instance"), "SSO_BASE_URL": f"http://{HOST}:{port}",
    }
    secret = secrets.token_urlsafe(32)
    flask_cli(["db", "upgrade"], env)
    flask_cli(["users", "create", "ann", "ann@example.com", "--name", "Ann Example", "--password-stdin"], env,
              stdin=PASSWORD + "\n")
    flask_cli(["apps", "add", CLIENT_ID, "--name", "Bench", "--protocol", "oidc", "--redirect-uri", REDIRECT,
               "--secret-stdin"], env, stdin=secret + "\n")
    with gunicorn("wsgi:app", port, env) as master:
        cookie, _ = login(port)
        yield Server("hub", port, cookie, secret, "/oidc/authorize", "/oidc/token", "/oidc/userinfo",
                     lambda: workers_cpu_seconds(master))


@contextmanager
def peer(workdir: Path) -> Iterator[Server]:
    import httpx

    if shutil.which("node") is None or shutil.which("npm") is None:
        sys.exit("node and npm are needed for the peer (apt-get install nodejs npm)")
    folder = workdir / "peer"
    folder.mkdir()
    (folder / "package.json").write_text('{"private": true, "type": "module"}\n')
    subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", f"oidc-provider@{PEER_VERSION}"],
                   cwd=folder, check=True, timeout=300)
    shutil.copy(ROOT / "bench" / "oidc_peer.mjs", folder / "oidc_peer.mjs")
    port, secret = free_port(), secrets.token_urlsafe(32)
    process = subprocess.Popen(["node", "oidc_peer.mjs", str(port), CLIENT_ID, secret, REDIRECT], cwd=folder,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert process.stdout is not None
        if not process.stdout.readline().startswith("ready"):
            sys.exit("oidc-provider did not start")
        base = f"http://{HOST}:{port}"
        with httpx.Client(base_url=base, headers={"User-Agent": USER_AGENT}, timeout=30) as client:
            _, challenge = pkce()
            url = "/auth?" + urlencode({"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT,
                                        "scope": SCOPE, "state": "s", "code_challenge": challenge,
                                        "code_challenge_method": "S256"})
            for _step in range(12):  # login, then consent, through the development interactions
                response = client.get(url)
                location = response.headers.get("location", "")
                if location.startswith(REDIRECT):
                    break
                if response.status_code in (302, 303):
                    url = location
                    continue
                action = re.search(r'<form[^>]*action="([^"]+)"', response.text)
                if action is None:
                    sys.exit(f"unexpected page from oidc-provider at {url}")
                fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', response.text))
                if 'name="login"' in response.text:
                    fields.update(login="ann", password="x")
                posted = client.post(action.group(1), data=fields)
                url = posted.headers.get("location", url)
            else:
                sys.exit("could not log in at oidc-provider")
            cookie = "; ".join(f"{c.name}={c.value}" for c in client.cookies.jar if c.name.startswith("_session"))
        yield Server("oidc-provider", port, cookie, secret, "/auth", "/token", "/me",
                     lambda: process_cpu_seconds(process.pid))
    finally:
        stop_processes([process])  # type: ignore[list-item]


def signing_cost() -> dict[str, float]:
    """µs to sign one ID token (typical claims) per algorithm, joserfc, best of 5 x 300."""
    from joserfc import jwt
    from joserfc.jwk import ECKey, RSAKey

    claims = {"iss": "https://sso.example.com", "aud": "helpdesk", "sub": secrets.token_urlsafe(24),
              "iat": 1_800_000_000, "exp": 1_800_000_600, "auth_time": 1_800_000_000, "nonce": "n" * 22,
              "at_hash": "a" * 22, "sid": "s" * 22, "name": "Ann Example", "email": "ann@example.com",
              "preferred_username": "ann", "email_verified": True}
    out = {}
    for alg, key in (("RS256", RSAKey.generate_key(2048, private=True)),
                     ("ES256", ECKey.generate_key("P-256", private=True))):
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(300):
                jwt.encode({"alg": alg, "kid": "k"}, claims, key, algorithms=[alg])
            best = min(best, (time.perf_counter() - start) / 300)
        out[alg] = best * 1e6
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 s rounds, 2 of each; README left alone")
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.rounds = 3.0, 2
    results: dict[str, list[Result]] = {"hub": [], "oidc-provider": []}
    with tempfile.TemporaryDirectory(prefix="bench-oidc-") as tmp, ExitStack() as stack:
        servers = [stack.enter_context(hub(Path(tmp))), stack.enter_context(peer(Path(tmp)))]
        for server in servers:
            load(server, args.clients, 1.0)  # warm-up (keys generated, JIT, caches)
        for _ in range(args.rounds):
            for server in servers:
                result = load(server, args.clients, args.seconds)
                results[server.name].append(result)
                print(f"{server.name:14} {result.rate:7.1f} flows/s  p50 {result.p(0.5):6.1f} ms  "
                      f"p99 {result.p(0.99):6.1f} ms  server CPU {result.cpu_ms:5.2f} ms/flow  "
                      f"errors {result.errors}", flush=True)
    costs = signing_cost()
    hub_rate = statistics.median(r.rate for r in results["hub"])
    peer_rate = statistics.median(r.rate for r in results["oidc-provider"])
    ratio = hub_rate / peer_rate
    worst_p99 = max(r.p(0.99) for r in results["hub"])
    errors = sum(r.errors for rs in results.values() for r in rs)
    def row(label: str, name: str) -> str:
        rs = results[name]
        return (f"| {label} | {statistics.median(r.rate for r in rs):,.0f} | "
                f"{statistics.median(r.p(0.5) for r in rs):.1f} | {max(r.p(0.99) for r in rs):.1f} | "
                f"{statistics.median(r.cpu_ms for r in rs):.2f} | {sum(r.errors for r in rs)} |")

    hub_cpu = statistics.median(r.cpu_ms for r in results["hub"])
    peer_cpu = statistics.median(r.cpu_ms for r in results["oidc-provider"])
    table = "\n".join([
        "| server | flows/s (median of rounds) | p50 ms | p99 ms, worst round | server CPU ms per flow | errors |",
        "|---|---:|---:|---:|---:|---:|",
        row("hub (gunicorn 2x4, SQLite)", "hub"),
        row(f"oidc-provider {PEER_VERSION} (node, 1 process)", "oidc-provider"),
    ])
    met = "met" if ratio >= TARGET_RATIO else "NOT met"
    verdict = (f"ratio hub/peer {ratio:.2f} (target >= {TARGET_RATIO}: {met}); "
               f"hub p99 {worst_p99:.1f} ms (target < {TARGET_P99_MS:.0f}: "
               f"{'met' if worst_p99 < TARGET_P99_MS else 'NOT met'}); errors {errors}")
    verdict += (f"\nserver CPU per flow: hub {hub_cpu:.2f} ms, peer {peer_cpu:.2f} ms "
                f"(peer/hub {peer_cpu / hub_cpu:.2f}; the rate ratio on a machine where neither is short of CPU)")
    signing = (f"ID-token signing (joserfc, one token): RS256 {costs['RS256']:.0f} µs, "
               f"ES256 {costs['ES256']:.0f} µs")
    print("\n" + table + "\n\n" + verdict + "\n" + signing)
    if not args.quick:
        (ROOT / "bench" / "README-oidc.md").write_text(
            f"# OIDC code flows: hub vs oidc-provider\n\n`.venv/bin/python bench/bench_oidc.py` on "
            f"{datetime.now(UTC):%Y-%m-%d}, {platform.machine()}, {args.clients} clients, {args.rounds} rounds of "
            f"{args.seconds:.0f} s each (alternating).\n\nOne flow = authorize with a logged-in session (PKCE S256, "
            f"state, nonce) -> token (client_secret_basic) -> userinfo.\n\n{table}\n\n{verdict}\n\n{signing}\n")


if __name__ == "__main__":
    main()
