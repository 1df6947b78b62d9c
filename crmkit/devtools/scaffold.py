"""Render ``plugin_template/`` into a new plugin package: ``crmkit plugins new NAME``.

The template needs only a handful of values (the plugin name and names derived
from it) substituted into file contents and paths, so a small renderer does it
instead of cookiecutter or copier: no extra dependency for every crmkit
install, and nothing to learn for a vendor who reads the template.

Rules: only files ending in ``.tmpl`` are rendered (the suffix is dropped);
``{{placeholder}}`` (no spaces inside the braces) is replaced in contents and
paths; an unknown placeholder is an error.  ``{{ expression }}``, with spaces,
is left as it is: the Jinja templates of the plugin's web pages keep theirs.
The output appears all at once (rendered beside the target and renamed), so a
failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

from .. import __version__
from ..errors import ConflictError, PluginError, ValidationError

SUFFIX = ".tmpl"
PLACEHOLDER = re.compile(r"\{\{([A-Za-z_]+)\}\}")
"""A placeholder: ``{{name}}``; Jinja's ``{{ name }}``, with spaces, is not one."""
NAME = re.compile(r"[a-z][a-z0-9_]*")
"""A plugin name, matched in full: a lowercase Python identifier (no trailing newline either)."""
MAX_NAME = 30
"""Longest plugin name: table and index names built from it stay within PostgreSQL's 63 bytes."""

RESERVED = frozenset({"crmkit", "core", "plugin", "plugins", "test", "tests"})


def template_dir() -> Path:
    """Where the template is: inside the installed package, or beside it in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    for candidate in (package / "plugin_template", package.parent / "plugin_template"):
        if candidate.is_dir():
            return candidate
    raise PluginError(f"the plugin template is not installed with this crmkit (looked for "
                      f"{package / 'plugin_template'} and {package.parent / 'plugin_template'})")


def check_name(name: str, taken: Iterable[str] = ()) -> None:
    """Raise ValidationError unless ``name`` can be a new plugin's name."""
    from ..cli import CORE_COMMANDS

    allowed = "lowercase letters, digits and _, starting with a letter (for example dental_clinic)"
    if not NAME.fullmatch(name):
        raise ValidationError(f"plugin name {name!r}: use {allowed}")
    if len(name) > MAX_NAME:
        raise ValidationError(f"plugin name {name!r}: {len(name)} characters; at most {MAX_NAME}")
    if name in CORE_COMMANDS or name in RESERVED or keyword.iskeyword(name):
        raise ValidationError(f"plugin name {name!r} is reserved (core commands and names: "
                              f"{', '.join(sorted(set(CORE_COMMANDS) | RESERVED))})")
    if name in set(taken):
        raise ValidationError(f"plugin name {name!r} is taken by an installed plugin; choose "
                              "another name")


def string_literal_body(text: str) -> str:
    """``text`` escaped for the inside of a double-quoted Python or TOML basic string.

    JSON's escapes (``\\"``, ``\\\\``, ``\\n``, ``\\uXXXX`` for control characters)
    mean the same in both; DEL, which JSON leaves raw and TOML forbids, is escaped too.
    """
    return json.dumps(text, ensure_ascii=False)[1:-1].replace("\x7f", "\\u007f")


def template_values(name: str, description: str | None = None) -> dict[str, str]:
    """The placeholder values for plugin ``name``.

    ``description`` is escaped for the Python and TOML strings it goes into
    (any text round-trips); ``description_markdown`` is the text as given.
    """
    text = description or f"{name}: visit counts and recall reminders for crmkit."
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in text):
        raise ValidationError("--description: contains a lone surrogate (U+D800..U+DFFF, e.g. "
                              "from bytes that are not UTF-8), which no file can hold")
    major, minor = (int(p) for p in __version__.split(".")[:2])
    return {
        "name": name,
        "package": f"crmkit_{name}",
        "dist_name": "crmkit-" + name.replace("_", "-"),
        "class_name": "".join(part.capitalize() for part in name.split("_")),
        "description": string_literal_body(text),
        "description_markdown": text,
        "crmkit_versions": f">={major}.{minor},<{major + 1}",
    }


def render_text(text: str, values: dict[str, str], where: str) -> str:
    """Replace every ``{{placeholder}}`` in ``text``; an unknown one is a PluginError naming ``where``."""
    def substitute(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise PluginError(f"{where}: unknown template placeholder {{{{{key}}}}} "
                              f"(known: {', '.join(sorted(values))})")
        return values[key]

    return PLACEHOLDER.sub(substitute, text)


def render(name: str, directory: str | os.PathLike = ".", description: str | None = None,
           taken: Iterable[str] = (), template: Path | None = None) -> Path:
    """Render the template for plugin ``name`` into ``directory/crmkit-<name>``; return that path."""
    check_name(name, taken)
    values = template_values(name, description)
    source = template or template_dir()
    parent = Path(directory)
    target = parent / values["dist_name"]
    if target.exists():
        raise ConflictError(f"{target} already exists; choose another --dir or remove it")
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{values['dist_name']}-", dir=parent))
    try:
        for path in sorted(source.rglob(f"*{SUFFIX}")):
            relative = path.relative_to(source)
            if "__pycache__" in relative.parts:
                continue
            out = staging / render_text(str(relative)[: -len(SUFFIX)], values, str(relative))
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(render_text(path.read_text(encoding="utf-8"), values, str(relative)),
                           encoding="utf-8")
            shutil.copymode(path, out)
        staging.chmod(0o755)
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


__all__ = ["check_name", "render", "render_text", "string_literal_body", "template_dir",
           "template_values"]
