"""The plugin template and ``crmkit plugins new``: from nothing to an installed, tested plugin.

The end-to-end test renders the template, builds a wheel with pip (hatchling
is the build backend), installs it into a fresh virtual environment and drives
it there through the CLI, then runs the new plugin's own tests.  The fresh
environment is created without pip and reaches crmkit and its dependencies
through a ``.pth`` file that runs ``site.addsitedir`` on this interpreter's
site-packages: installing crmkit's dependencies again would take minutes and
test pip rather than crmkit, while the wheel itself is installed for real
(its files and its entry point are only in the new environment).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from crmkit.devtools import plugin_check, scaffold
from crmkit.cli import main
from crmkit.errors import ConflictError, PluginError, ValidationError

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "plugin_template"

RENDERED = {
    ".gitignore", "README.md", "ci.sh", "pyproject.toml", "tests/test_dental_clinic.py",
    "crmkit_dental_clinic/__init__.py", "crmkit_dental_clinic/api.py",
    "crmkit_dental_clinic/card.py", "crmkit_dental_clinic/cli.py",
    "crmkit_dental_clinic/config.schema.json",
    "crmkit_dental_clinic/logic.py", "crmkit_dental_clinic/settings.py",
    "crmkit_dental_clinic/tables.py",
    "crmkit_dental_clinic/dataservices.py", "crmkit_dental_clinic/demo.py",
    "crmkit_dental_clinic/routes.py", "crmkit_dental_clinic/pages.py",
    "crmkit_dental_clinic/work.py", "crmkit_dental_clinic/templates/dental_clinic_recalls.html",
    "crmkit_dental_clinic/templates/dental_clinic_work.html",
    "crmkit_dental_clinic/migrations/dental_clinic_0001.py",
    "crmkit_dental_clinic/locale/zh_Hans/LC_MESSAGES/messages.po",
}


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def test_template_files_cannot_be_imported_or_collected():
    names = files_under(TEMPLATE) - {"TEMPLATE.md"}
    assert names and all(name.endswith(".tmpl") for name in names), names
    assert not [n for n in names if "__pycache__" in n]


def test_render_substitutes_names_in_paths_and_contents(tmp_path):
    target = scaffold.render("dental_clinic", tmp_path, "Recall reminders for dental clinics.")
    assert target == tmp_path / "crmkit-dental-clinic"
    assert files_under(target) == RENDERED
    for name in RENDERED:
        text = (target / name).read_text(encoding="utf-8")
        assert not scaffold.PLACEHOLDER.search(text), name
        if name.endswith(".py"):
            compile(text, name, "exec")
    project = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["name"] == "crmkit-dental-clinic"
    assert project["project"]["entry-points"]["crmkit"] == {"dental_clinic": "crmkit_dental_clinic"}
    assert project["project"]["dependencies"] == ["crmkit>=0.1,<1"]
    init = (target / "crmkit_dental_clinic/__init__.py").read_text(encoding="utf-8")
    assert 'name="dental_clinic"' in init and 'crmkit_versions=">=0.1,<1"' in init
    assert "class DentalClinicAPI" in (target / "crmkit_dental_clinic/api.py").read_text()
    schema = json.loads((target / "crmkit_dental_clinic/config.schema.json").read_text())
    assert plugin_check.missing_defaults(schema) == []
    assert os.access(target / "ci.sh", os.X_OK)


@pytest.mark.parametrize("name, message", [
    ("Dental", "use lowercase letters, digits and _"),
    ("dental-clinic", "use lowercase letters, digits and _"),
    ("9lives", "use lowercase letters, digits and _"),
    ("dental\n", "use lowercase letters, digits and _"),
    ("dental clinic", "use lowercase letters, digits and _"),
    ("customers", "is reserved"),
    ("plugins", "is reserved"),
    ("a" * 31, "31 characters; at most 30"),
    ("loyalty", "is taken by an installed plugin"),
])
def test_bad_names_are_refused_and_nothing_is_written(tmp_path, name, message):
    with pytest.raises(ValidationError, match=message):
        scaffold.render(name, tmp_path, taken={"loyalty"})
    assert list(tmp_path.iterdir()) == []


def test_an_existing_target_is_never_overwritten(tmp_path):
    (tmp_path / "crmkit-dental").mkdir()
    (tmp_path / "crmkit-dental" / "mine.txt").write_text("keep")
    with pytest.raises(ConflictError, match="crmkit-dental already exists"):
        scaffold.render("dental", tmp_path)
    assert files_under(tmp_path) == {"crmkit-dental/mine.txt"}


def test_an_unknown_placeholder_fails_and_leaves_nothing(tmp_path):
    template = tmp_path / "template"
    (template / "pkg").mkdir(parents=True)
    (template / "pkg" / "a.txt.tmpl").write_text("{{name}} ok")
    (template / "pkg" / "b.txt.tmpl").write_text("{{nmae}} typo")
    out = tmp_path / "out"
    with pytest.raises(PluginError, match=r"pkg/b.txt.tmpl: unknown template placeholder "
                                          r"\{\{nmae\}\}"):
        scaffold.render("dental", out, template=template)
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("description", [
    'Say "hi" to C:\\clinics\\ and {{name}}', "two\nlines\r\tand a tab", '"""',
    "ends with a backslash \\", "control \x00\x1b\x7f and caf\u00e9 \u2028 \U0001F9B7",
    "'''quotes'''",
])
def test_any_description_round_trips_through_toml_python_and_markdown(tmp_path, description):
    import ast

    target = scaffold.render("dental", tmp_path, description)
    project = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["description"] == description
    init = ast.parse((target / "crmkit_dental/__init__.py").read_text(encoding="utf-8"))
    assert ast.get_docstring(init, clean=False).startswith(description + "\n")
    [plugin] = [n.value for n in init.body if isinstance(n, ast.Assign)
                and getattr(n.targets[0], "id", None) == "PLUGIN"]
    [given] = [k.value for k in plugin.keywords if k.arg == "description"]
    assert ast.literal_eval(given) == description
    cli = ast.parse((target / "crmkit_dental/cli.py").read_text(encoding="utf-8"))
    [group] = [n for n in cli.body if isinstance(n, ast.FunctionDef) and n.name == "group"]
    assert ast.get_docstring(group, clean=False) == description
    assert description in (target / "README.md").read_bytes().decode("utf-8")


def test_a_description_that_no_file_can_hold_is_refused(tmp_path):
    with pytest.raises(ValidationError, match="--description: contains a lone surrogate"):
        scaffold.render("dental", tmp_path, "bad \udcff byte")
    assert list(tmp_path.iterdir()) == []


def test_plugins_new_command(tmp_path, capsys):
    assert main(["plugins", "new", "dental", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"created {tmp_path / 'crmkit-dental'}" in out
    # the next steps work in the new directory, which holds no database yet
    assert "  crmkit init\n  crmkit plugins enable dental\n" in out
    assert main(["plugins", "new", "dental", "--dir", str(tmp_path)]) == 1
    assert "already exists" in capsys.readouterr().err


def test_the_rendered_plugin_passes_plugins_check(tmp_path, monkeypatch):
    target = scaffold.render("dental", tmp_path)
    monkeypatch.syspath_prepend(str(target))
    report = plugin_check.check_plugin("dental", ["crmkit_dental"])
    assert report.ok, report.failures
    assert {f.check for f in report.findings if f.status == "ok"} == {
        "import", "metadata", "schema", "hooks", "tables", "migrations", "enable", "web"}
    for module in [m for m in sys.modules if m == "crmkit_dental" or m.startswith("crmkit_dental.")]:
        monkeypatch.delitem(sys.modules, module)


# -- end to end: wheel, fresh environment, CLI, the plugin's own tests ----------------------


def fresh_environment(folder: Path) -> Path:
    """A new virtual environment (no pip) that sees this interpreter's packages; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    (Path(site) / "_crmkit_base.pth").write_text(
        "import site; " + "; ".join(f"site.addsitedir({p!r})" for p in ours) + "\n")
    return python


def clean_env() -> dict[str, str]:
    """This process's environment without the outer pytest's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.pop("PYTHONPATH", None)
    env.pop("CRMKIT_DATABASE_URL", None)
    env.pop("CRMKIT_PLUGINS", None)
    return env


def served_route_and_permission(crmkit, python: Path, work: Path, env: dict[str, str]) -> None:
    """The installed plugin's route and permission through a real ``crmkit serve`` on 127.0.0.1,
    with staff and tokens made by the CLI: an agent records a visit (201), a viewer reads it but
    may not record one (403)."""
    import signal
    import socket
    import time

    import httpx

    secrets = {}
    for role in ("agent", "viewer"):
        added = crmkit("staff", "add", role, "--name", role.title(), "--team", "desk",
                       "--role", role)
        assert added.returncode == 0, added.stderr
        made = crmkit("tokens", "create", "--staff", role)
        assert made.returncode == 0, made.stderr
        secrets[role] = made.stdout.strip().splitlines()[-1]
    agent, viewer = secrets["agent"], secrets["viewer"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    log = work / "serve.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(python), "-c",
             "import sys; from crmkit.cli import main; sys.exit(main(sys.argv[1:]))",
             "--db", "sqlite:///crm.db", "serve", "--port", str(port)],
            cwd=work, env=env, stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/api/v1/dental/customers/A"
    try:
        deadline = time.monotonic() + 60
        while True:  # poll readiness with a deadline
            assert server.poll() is None, log.read_text(errors="replace")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "crmkit serve did not start within 60 s"
            time.sleep(0.05)
        recorded = httpx.post(f"{url}/visits", json={"at": "2024-07-01T10:00:00Z"},
                              headers={"Authorization": f"Bearer {agent}"}, timeout=30)
        assert recorded.status_code == 201, recorded.text
        assert (recorded.json()["visits"], recorded.json()["last_visit_at"]) == (
            2, "2024-07-01T10:00:00+00:00")
        refused = httpx.post(f"{url}/visits", json={"at": "2024-07-02"},
                             headers={"Authorization": f"Bearer {viewer}"}, timeout=30)
        assert refused.status_code == 403, refused.text
        assert "dental.write" in refused.json()["detail"]
        read = httpx.get(url, headers={"Authorization": f"Bearer {viewer}"}, timeout=30)
        assert read.json()["visits"] == 2
        assert "/api/v1/dental/customers/{customer}/visits" in httpx.get(
            f"http://127.0.0.1:{port}/openapi.json", timeout=30).json()["paths"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def test_the_rendered_plugins_route_and_permission_work_in_process(tmp_path, monkeypatch,
                                                                   crm_url, clock):
    import importlib

    from crmkit import CRM
    from crmkit.devtools.testing import api_client

    target = scaffold.render("dental", tmp_path, "Recall reminders.")
    monkeypatch.syspath_prepend(str(target))
    plugin = importlib.import_module("crmkit_dental")
    try:
        with CRM.open(crm_url, clock=clock, create=True,
                      extra_plugins={"dental": plugin}) as crm:
            crm.plugins.enable("dental")
            crm.customers.add("A")
            assert crm.auth.permissions()["dental.write"] == "Record visits."
            with api_client(crm, role="agent") as agent:
                recorded = agent.post("/api/v1/dental/customers/A/visits",
                                      json={"at": "2024-06-01", "note": "x" * 281})
                assert recorded.status_code == 422  # the plugin's own pipeline rule
                assert "281 characters; at most 280" in recorded.json()["detail"]
                recorded = agent.post("/api/v1/dental/customers/A/visits",
                                      json={"at": "2024-06-01", "note": "check-up"})
                assert recorded.status_code == 201, recorded.text
                assert recorded.json()["visits"] == 1
            with api_client(crm, role="viewer") as viewer:
                assert viewer.get("/api/v1/dental/customers/A").json()["visits"] == 1
                assert viewer.post("/api/v1/dental/customers/A/visits",
                                   json={"at": "2024-06-02"}).status_code == 403
            assert crm.plugin("dental").status("A")["visits"] == 1
    finally:
        for module in [m for m in sys.modules
                       if m == "crmkit_dental" or m.startswith("crmkit_dental.")]:
            monkeypatch.delitem(sys.modules, module)


def test_end_to_end_new_plugin_from_wheel(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    target = scaffold.render("dental", tmp_path / "src", "Recall reminders for dental clinics.")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                            str(tmp_path / "dist"), str(target)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("crmkit_dental-0.1.0-*.whl")
    python = fresh_environment(tmp_path / "venv")
    installed = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                                "-q", "--no-deps", str(wheel)], capture_output=True, text=True)
    assert installed.returncode == 0, installed.stderr
    env = clean_env()

    def crmkit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(python), "-c", "import sys; from crmkit.cli import main; "
                               "sys.exit(main(sys.argv[1:]))", "--db", "sqlite:///crm.db", *args],
                              cwd=work, env=env, capture_output=True, text=True)

    where = subprocess.run([str(python), "-c", "import crmkit_dental; print(crmkit_dental.__file__)"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(tmp_path / "venv"))  # the installed wheel, not the sources

    assert crmkit("init").returncode == 0
    listed = crmkit("plugins", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [row] = [r for r in json.loads(listed.stdout) if r["name"] == "dental"]
    assert (row["version"], row["status"], row["description"]) == (
        "0.1.0", "disabled", "Recall reminders for dental clinics.")
    enabled = crmkit("plugins", "enable", "dental")
    assert enabled.returncode == 0, enabled.stderr
    with sqlite3.connect(work / "crm.db") as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"dental_visits", "dental_notes"} <= tables
    assert crmkit("customers", "add", "A", "--name", "Ann").returncode == 0
    assert crmkit("interactions", "record", "A", "--kind", "visit", "--at", "2024-06-01").returncode == 0
    due = crmkit("dental", "due", "--as-of", "2025-01-01", "--format", "json")
    assert due.returncode == 0, due.stderr
    assert [(r["customer"], r["visits"], r["days_since"]) for r in json.loads(due.stdout)] == [
        ("A", 1, 214)]
    rejected = crmkit("interactions", "record", "A", "--kind", "visit", "--at", "2024-06-02",
                      "--payload", json.dumps({"note": "x" * 300}))
    assert rejected.returncode == 1
    assert "payload.note: 300 characters; at most 280 allowed" in rejected.stderr
    listed = crmkit("interactions", "list", "--format", "json")
    assert len(json.loads(listed.stdout)) == 1  # the rejected visit left nothing behind
    checked = crmkit("plugins", "check", "dental")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    served_route_and_permission(crmkit, python, work, env)

    tests = subprocess.run([str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            str(target / "tests")], cwd=work, env=env, capture_output=True, text=True)
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-2000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout
