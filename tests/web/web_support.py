"""Helpers of the HTTP API tests: real ``crmkit serve`` processes and the in-process app
(the fixtures in conftest.py hand them out)."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import random
import signal
import socket
import re
import subprocess
import time
from pathlib import Path

import httpx
from sqlalchemy import inspect, text

from crmkit import CRM
from crmkit.devtools.testing import api_pages

TESTS = Path(__file__).resolve().parent.parent
STARTUP_SECONDS = 60
"""How long a server may take to answer /health before the test fails (a deadline, not a wait)."""


def problem(answer, status: int) -> dict:
    """The RFC 9457 problem document of ``answer``, after checking its status and media type."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    return answer.json()


def every_page(client, path: str, params: dict | None = None) -> list[dict]:
    """Every item of a paged report (``{"items", "next_cursor"}``), following ``next_cursor``
    until it is null, each page checked for its status."""
    return [item for page in api_pages(client, path, params) for item in page]


PASSWORD = "correct horse battery"
"""The password the web tests give their staff members."""


def csrf(page) -> str:
    """The CSRF token of ``page``'s first form."""
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(app, handle: str, password: str = PASSWORD):
    """A new client of ``app`` (a served or in-process app), signed in as ``handle``; an
    in-process app's clients share their cookies, so this replaces any earlier sign-in."""
    client = app.client()
    answer = client.post("/login", data={"csrf_token": csrf(client.get("/login")),
                                         "username": handle, "password": password})
    assert answer.status_code == 303, answer.text
    return client


def audit_rows(page: str) -> list[dict[str, str]]:
    """The audit page's rows: each cell's text by its label."""
    rows = []
    for row in re.findall(r"<tr data-audit=.*?</tr>", page, re.DOTALL):
        cells = re.findall(r'<td (?:class="token" )?data-label="([^"]+)">(.*?)</td>', row,
                           re.DOTALL)
        rows.append({label: html.unescape(re.sub(r"<[^>]+>", "", value)).strip()
                     for label, value in cells})
    return rows


def without_csrf_tokens(page: str) -> str:
    """``page`` with its forms' random CSRF tokens blanked, so a test may assert that some
    short text is absent without a token containing it by chance."""
    return re.sub(r'(name="csrf_token" value=")[^"]*"', r'\1"', page)


@contextlib.contextmanager
def serialisation_failure_once(engine, statement_start: str):
    """While open, the first statement on ``engine`` starting with ``statement_start`` fails as
    PostgreSQL fails a transaction it aborts for a concurrent one; yields the list of the
    statements so failed (at most one)."""
    import psycopg
    from sqlalchemy import event

    aborted: list[str] = []

    def abort_once(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith(statement_start) and not aborted:
            aborted.append(statement)
            raise psycopg.errors.SerializationFailure(
                "could not serialize access due to concurrent update")

    event.listen(engine, "before_cursor_execute", abort_once)
    try:
        yield aborted
    finally:
        event.remove(engine, "before_cursor_execute", abort_once)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Tokens:
    """Staff members with roles and their API tokens, made through the Python API."""

    def __init__(self, open_crm):
        self._open = open_crm

    def token(self, handle: str, role: str = "agent", expires_at=None) -> str:
        """Add staff member ``handle`` with ``role`` (once) and return a new token's secret."""
        with self._open() as crm:
            if not any(s.handle == handle for s in crm.staff.list(active_only=False)):
                crm.staff.add(handle, handle.title(), "api")
            crm.staff.set_role(handle, role)
            _, secret = crm.tokens.create(handle, name="test", expires_at=expires_at)
        return secret


class Served(Tokens):
    """A running ``crmkit serve`` process."""

    def __init__(self, crm_url: str, process: subprocess.Popen, port: int, log: Path,
                 extra_plugins: dict, clock):
        self.crm_url = crm_url
        self.clock = clock
        self.process = process
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self._extra = extra_plugins
        super().__init__(self.open)

    def open(self) -> CRM:
        """The server's database, opened in the test (close it: use ``with``)."""
        return CRM.open(self.crm_url, clock=self.clock, extra_plugins=self._extra)

    def client(self, token: str | None = None, **options) -> httpx.Client:
        """An HTTP client on the server, sending ``token`` as a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **options)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"crmkit serve exited with {self.process.returncode}: "
                                   f"{self.log.read_text(errors='replace')}")
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"crmkit serve did not answer within {STARTUP_SECONDS} s: "
                                   f"{self.log.read_text(errors='replace')}")
            time.sleep(0.05)  # polling interval of the readiness check, not a wait for a result

    def stop(self) -> int:
        """SIGTERM (graceful: in-flight requests finish) and wait; returns the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def prepare_database(crm_url: str, clock, plugins=(), extra_plugins=None, configs=None) -> None:
    """Create the schema of ``crm_url`` and enable ``plugins`` (with ``configs[name]``)."""
    with CRM.open(crm_url, clock=clock, create=True, extra_plugins=extra_plugins) as crm:
        for name in plugins:
            crm.plugins.enable(name, (configs or {}).get(name))


def with_role(crm, role: str, patterns: list[str]) -> None:
    """Define ``role`` (core config ``roles``) as granting ``patterns``."""
    crm.plugins.configure_core(crm.core_config | {"roles": crm.core_config["roles"]
                                                  | {role: patterns}})


TAGS = {"C1": ["secret"], "C2": ["private"], "C3": []}
"""The customers of :func:`row_level_api` and their tags (the webtest plugin's rules: C1 is
hidden from every member but admins, C2's personal data is masked for them)."""


@contextlib.contextmanager
def row_level_api(crm_url: str, clock):
    """The API in-process with the webtest plugin enabled: organisation O1 with C1 (secret),
    C2 (private) and C3, each with a note; ``.admin`` and ``.manager`` (mia, whose role holds
    ``customers.pii``) are tokens."""
    import crmkit_webtest

    with CRM.open(crm_url, clock=clock, create=True,
                  extra_plugins={"webtest": crmkit_webtest}) as crm:
        crm.plugins.enable("webtest")
        crm.customers.add("O1", "Oak Ltd", type="organisation")
        crm.customers.add_many([{"external_id": ref, "name": f"{ref}'s name", "tags": tags,
                                 "organisation": "O1"} for ref, tags in TAGS.items()])
        for day, ref in enumerate(TAGS, start=1):
            crm.interactions.record(ref, dt.datetime(2024, 12, day, tzinfo=dt.timezone.utc),
                                    kind="note", payload={"text": f"{ref}'s note"})
        helper = InProcess(crm)
        helper.admin = helper.token("root", role="admin")
        helper.manager = helper.token("mia", role="manager")
        try:
            yield helper
        finally:
            helper.close()


def history(customers: int = 120) -> list[dict]:
    """Buy-till-you-die purchases of ``customers`` customers without personal data (F000…),
    varied enough for the analytical plugin's CLV fit."""
    rng, end = random.Random(5), dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
    rows = []
    for i in range(customers):
        at = end - dt.timedelta(days=rng.uniform(30, 360))
        rate, dropout = rng.gammavariate(2.0, 1 / 40.0), rng.betavariate(1, 6)
        while at < end:
            rows.append({"customer": f"F{i:03d}", "kind": "purchase", "occurred_at": at,
                         "amount": str(rng.randint(20, 120))})
            if rng.random() < dropout:
                break
            at += dt.timedelta(days=rng.expovariate(rate))
    return rows


def stored_rows(crm) -> dict[str, list[str]]:
    """Every row of every table of the CRM's database (each table's rows as sorted texts)."""
    with crm.read() as conn:
        return {name: sorted(repr(tuple(row)) for row in conn.execute(
                    text(f'SELECT * FROM "{name}"')))
                for name in inspect(conn).get_table_names()}


def plugin_paths() -> list[Path]:
    """Where the test plugins live (local plugin modules the server imports)."""
    return [TESTS / "vendor_plugin", TESTS / "web"]


class InProcessClient:
    """A synchronous httpx client on an ASGI app in this process (httpx's ASGITransport run
    through an anyio blocking portal): ``client.get(url)``, ``client.post(url, json=…)``."""

    def __init__(self, app):
        import anyio.from_thread

        self._portal_context = anyio.from_thread.start_blocking_portal()
        self._portal = self._portal_context.__enter__()
        self._client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                         base_url="http://testserver")
        self.headers = self._client.headers

    def request(self, method: str, url: str, **options) -> httpx.Response:
        return self._portal.call(functools.partial(self._client.request, method, url,
                                                   **options))

    def get(self, url: str, **options) -> httpx.Response:
        return self.request("GET", url, **options)

    def post(self, url: str, **options) -> httpx.Response:
        return self.request("POST", url, **options)

    def put(self, url: str, **options) -> httpx.Response:
        return self.request("PUT", url, **options)

    def patch(self, url: str, **options) -> httpx.Response:
        return self.request("PATCH", url, **options)

    def delete(self, url: str, **options) -> httpx.Response:
        return self.request("DELETE", url, **options)

    def close(self) -> None:
        self._portal.call(self._client.aclose)
        self._portal_context.__exit__(None, None, None)


class InProcess(Tokens):
    """The API of a CRM served in-process (``create_app``), for fast route tests."""

    def __init__(self, crm):
        from crmkit.web import create_app

        self.crm = crm
        self.app = create_app(crm)
        self._client = InProcessClient(self.app)
        super().__init__(lambda: contextlib.nullcontext(crm))

    def client(self, token: str | None = None) -> InProcessClient:
        """The client, sending ``token`` as a bearer token when given (none otherwise)."""
        self._client.headers.pop("Authorization", None)
        if token:
            self._client.headers["Authorization"] = f"Bearer {token}"
        return self._client

    def close(self) -> None:
        self._client.close()
