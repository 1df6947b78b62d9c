"""The documentation is complete, current and true.

* The generated reference (docs/reference/) matches what ``python -m crmkit.devtools.docgen`` produces.
* Every hook has a docstring; the hook signatures match tests/hookspecs.snapshot.json.
* Every configuration key of every built-in plugin is described (in its schema or its page).
* Every CLI command, plugin groups included, appears as ``crmkit <command>`` in docs/.
* Every code example runs: ```python blocks are executed, ```sh blocks whose first command
  is ``crmkit`` go through the CLI, page by page in a fresh directory (so ``sqlite:///crm.db``
  is a new database).  A block marked ```sh no-run (or ```python no-run) is shown, not run;
  a block marked ``file=NAME`` (```csv file=customers.csv) is written to NAME for the
  commands after it.
"""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

from crmkit.devtools import docgen

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SNAPSHOT = Path(__file__).parent / "hookspecs.snapshot.json"
PAGES = sorted(p for p in DOCS.rglob("*.md") if "reference" not in p.relative_to(DOCS).parts)
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.M | re.S)


def page_id(path: Path) -> str:
    return str(path.relative_to(DOCS))


def doc_texts() -> list[str]:
    return [p.read_text(encoding="utf-8") for p in sorted(DOCS.rglob("*.md"))]


# -- generated reference and hook contract ---------------------------------------------------


def test_generated_reference_is_up_to_date():
    problems = docgen.stale(DOCS / "reference")
    assert not problems, ("regenerate with `python -m crmkit.devtools.docgen` and commit:\n"
                          + "\n".join(problems))


def test_every_hook_is_documented_in_the_reference():
    reference = (DOCS / "reference" / "hooks.md").read_text(encoding="utf-8")
    for hook in docgen.hooks():
        assert len(hook.doc.split()) >= 5, f"{hook.name} needs a docstring in crmkit/hookspecs.py"
        assert f"### `{hook.name}({', '.join(hook.argnames)})`" in reference


def test_hook_signatures_match_the_snapshot():
    """Removing or renaming a hook or an argument breaks plugins: it must be a deliberate act."""
    recorded = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    current = docgen.hook_signatures()
    problems = [f"hook {name} was removed or renamed" for name in recorded if name not in current]
    problems += [f"{name}: arguments {args} are now {current[name]} (an argument plugins use "
                 "was removed or renamed)"
                 for name, args in recorded.items() if name in current and current[name] != args]
    problems += [f"new hook {name}({', '.join(args)}) is not in the snapshot"
                 for name, args in current.items() if name not in recorded]
    assert not problems, ("the hook contract changed; if that is deliberate, note it in the "
                          "changelog, bump the version range plugins declare, and run "
                          "`python -m crmkit.devtools.docgen --snapshot tests/hookspecs.snapshot.json`:\n"
                          + "\n".join(problems))


@pytest.mark.parametrize("name", docgen.builtin_plugins())
def test_every_config_key_is_documented(name):
    schema, _ = docgen.plugin_schema(name)
    page = DOCS / "plugins" / f"{name}.md"
    text = page.read_text(encoding="utf-8") if page.is_file() else ""
    missing = [key.display for key in docgen.config_keys(schema or {})
               if not key.schema.get("description")
               and f"`{key.display}`" not in text
               and f"`{key.display.rsplit('.', 1)[-1].removeprefix('[]')}`" not in text]
    assert not missing, (f"{name}: give these keys a \"description\" in the schema or explain "
                         f"them in docs/plugins/{name}.md: {', '.join(missing)}")


def test_every_cli_command_is_documented():
    missing = docgen.undocumented_commands(doc_texts())
    assert not missing, ("no page in docs/ shows these commands (write `crmkit <command> ...`):\n"
                         + "\n".join(f"crmkit {c}" for c in missing))


# -- the checks above can fail ----------------------------------------------------------------


def test_mentions_are_read_past_global_options_and_prose():
    text = ("Run `crmkit --db sqlite:///x.db plugins enable loyalty` first.\n"
            "```sh\ncrmkit --debug loyalty points award C1 100  # give points\n```\n"
            "| `crmkit customers show ID` | the 360 view |\n"
            "crmkit is a framework; see crmkit.cli and pip install crmkit-dental\n")
    assert docgen.mentioned_command_paths(text) == {
        ("plugins", "enable", "loyalty"), ("loyalty", "points", "award"),
        ("customers", "show"), ("is", "a")}


def test_undocumented_commands_are_found():
    everything = docgen.cli_command_paths()
    assert ("plugins", "check") in everything and ("plugins", "new") in everything
    text = "\n".join(f"crmkit {' '.join(p)}" for p in everything if p != ("plugins", "check"))
    assert docgen.undocumented_commands([text]) == ["plugins check"]


def test_config_reference_of_a_known_schema():
    schema = {"type": "object", "properties": {
        "rate": {"type": "number", "minimum": 0, "default": 1.5, "description": "Points | unit."},
        "tiers": {"type": "array", "default": [], "items": {
            "type": "object", "required": ["name"],
            "properties": {"name": {"type": "string", "minLength": 1}}}},
        "mode": {"enum": ["a", "b"], "default": "a"}}}
    text = docgen.config_markdown("demo", schema, "A demo.")
    assert "| `rate` | number | `1.5` | ≥ 0 | Points \\| unit. |" in text
    assert "| `tiers` | array of objects | `[]` |  |  |" in text
    assert "| `tiers[].name` | string | required | not empty |  |" in text
    assert '| `mode` | one of `"a"`, `"b"` | `"a"` |  |  |' in text
    assert [k.pointer for k in docgen.config_keys(schema)] == ["/rate", "/tiers", "/tiers/*/name",
                                                              "/mode"]


def test_stale_reference_is_reported(tmp_path):
    docgen.write(tmp_path)
    assert docgen.stale(tmp_path) == []
    (tmp_path / "hooks.md").write_text("old", encoding="utf-8")
    (tmp_path / "config-gone.md").write_text("x", encoding="utf-8")
    assert docgen.stale(tmp_path) == [f"{tmp_path / 'hooks.md'}: out of date",
                                      f"{tmp_path / 'config-gone.md'}: no longer generated (remove it)"]


# -- code examples ------------------------------------------------------------------------------


def blocks(text: str) -> list[tuple[int, str, set[str], str]]:
    """``(line, language, flags, code)`` of each fenced block of a Markdown page."""
    found = []
    for match in FENCE.finditer(text):
        info = match.group(1).split()
        language = info[0] if info else ""
        found.append((text.count("\n", 0, match.start()) + 1, language, set(info[1:]),
                      match.group(2)))
    return found


def shell_commands(code: str) -> list[list[str]]:
    """The commands of a shell block: continuation lines joined, comments dropped.

    A command may start with ``NAME=value`` assignments, as in a shell.
    """
    commands, pending = [], ""
    for line in code.splitlines():
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        words = shlex.split(pending + line, comments=True)
        pending = ""
        if words:
            commands.append(words)
    return commands


def test_blocks_and_commands_are_parsed():
    page = ("text\n```sh\ncrmkit init  # make it\ncrmkit customers add C1 \\\n  --name 'Ada L'\n```\n"
            "```python no-run\nx = 1\n```\n```csv file=a.csv\nx,y\n```\n")
    [(line, lang, flags, code), (_, lang2, flags2, _), (_, lang3, flags3, csv)] = blocks(page)
    assert (line, lang, flags, lang2, flags2) == (2, "sh", set(), "python", {"no-run"})
    assert (lang3, file_name(flags3), csv) == ("csv", "a.csv", "x,y\n")
    assert [runnable(*b[1:]) for b in blocks(page)] == [True, False, True]
    assert shell_commands(code) == [["crmkit", "init"],
                                    ["crmkit", "customers", "add", "C1", "--name", "Ada L"]]


def file_name(flags: set[str]) -> str | None:
    """The NAME of a ``file=NAME`` block (its text is a file the next examples use)."""
    return next((f.partition("=")[2] for f in flags if f.startswith("file=")), None)


def runnable(language: str, flags: set[str], code: str) -> bool:
    """Python blocks, shell blocks whose first command is ``crmkit``, and file blocks; not no-run."""
    if "no-run" in flags:
        return False
    if file_name(flags):
        return True
    if language == "python":
        return True
    if language in ("sh", "console", "bash", "shell"):
        commands = shell_commands(code)
        first = [w for w in commands[0] if not re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", w)] if commands else []
        return bool(first) and first[0] == "crmkit"
    return False


def set_variable(monkeypatch, name: str, value: str) -> None:
    """``NAME=value crmkit ...``: set the variable; PYTHONPATH entries go on sys.path (in-process)."""
    if name == "PYTHONPATH":
        for entry in reversed(value.split(":")):
            monkeypatch.syspath_prepend(str(Path(entry).resolve()))
    else:
        monkeypatch.setenv(name, value)


def forget_modules_in(folder: Path) -> None:
    """Unload modules imported from ``folder``: the next command imports them afresh, as a shell would."""
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(folder)):
            del sys.modules[name]


EXAMPLE_PAGES = [p for p in PAGES
                 if any(runnable(lang, flags, code)
                        for _, lang, flags, code in blocks(p.read_text(encoding="utf-8")))]


@pytest.mark.parametrize("page", EXAMPLE_PAGES, ids=page_id)
def test_code_examples_run(page, tmp_path, monkeypatch, capsys):
    from crmkit.cli import main

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CRMKIT_DATABASE_URL", raising=False)
    monkeypatch.delenv("CRMKIT_PLUGINS", raising=False)
    namespace: dict = {"__name__": "__doc_example__"}
    for line, language, flags, code in blocks(page.read_text(encoding="utf-8")):
        where = f"{page_id(page)}:{line}"
        if not runnable(language, flags, code):
            continue
        if file_name(flags):
            (tmp_path / file_name(flags)).write_text(code, encoding="utf-8")
        elif language == "python":
            # padded so that a traceback's line number is the page's line number
            exec(compile("\n" * line + code, page_id(page), "exec"), namespace)  # noqa: S102
        else:
            for words in shell_commands(code):
                with pytest.MonkeyPatch.context() as scoped:  # NAME=value applies to one command
                    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
                        name, _, value = words.pop(0).partition("=")
                        set_variable(scoped, name, value)
                    assert words[0] == "crmkit", (f"{where}: {shlex.join(words)!r} is not a "
                                                  "crmkit command; mark the block ```sh no-run")
                    capsys.readouterr()
                    status = main(words[1:])
                    captured = capsys.readouterr()
                    forget_modules_in(tmp_path)
                assert status == 0, (f"{where}: `{shlex.join(words)}` exited {status}:\n"
                                     f"{captured.err}{captured.out}")
    forget_modules_in(tmp_path)
