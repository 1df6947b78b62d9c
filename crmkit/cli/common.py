"""Shared pieces of the CLI: opening the CRM, output formats, dates, progress bars."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import logging
import os
import sys
import tempfile
import unicodedata
from decimal import Decimal
from typing import IO, Any, Callable, Iterable, Iterator, Sequence

import attrs
import click

from ..models import jsonable

FORMATS = ("table", "json", "csv")
_FORMULA_STARTS = frozenset("'=+-@\t\r")
"""First characters of the text cells :func:`crmkit.services.records.neutralise` may change."""


@attrs.define
class State:
    """What the top-level options decided; ``open()`` gives the CRM."""

    db_url: str
    actor: str
    debug: bool
    argv: list[str]
    local_plugins: list[str] = attrs.field(factory=list)
    clock: Any = None

    def extra_plugins(self) -> dict:
        """The ``--plugin`` modules, imported, by plugin name."""
        from ..plugins import import_local

        extra = {}
        for module_name in self.local_plugins:
            module = import_local(module_name)
            extra[getattr(getattr(module, "PLUGIN", None), "name", module_name)] = module
        return extra

    def show(self, read: Callable[[Any], Iterable[Any]], columns: Sequence[str], fmt: str,
             **how: Any) -> None:
        """Open the CRM, read the rows with ``read(crm)`` and print them with :func:`output`
        (``how``: its ``limit`` and ``more``) once the CRM is closed."""
        with self.open() as crm:
            rows = list(read(crm))
        output(rows, columns, fmt, **how)

    def open(self, create: bool = False, upgrade: bool = False):
        """Open the CRM with this invocation's URL, actor (checked against staff), local plugins
        and command (for audit)."""
        from ..app import CRM

        crm = CRM.open(self.db_url, clock=self.clock, create=create, upgrade=upgrade,
                       actor=self.actor, extra_plugins=self.extra_plugins())
        try:
            crm.staff.check_actor(self.actor)
        except BaseException:
            crm.close()
            raise
        crm.command = "crmkit " + " ".join(_redact(self.argv))
        return crm


def _redact(argv: list[str]) -> list[str]:
    from ..db import hide_password

    return [hide_password(arg) for arg in argv[:20]]


pass_state = click.make_pass_decorator(State)


class _StderrHandler(logging.Handler):
    """Writes crmkit's log records to the current ``sys.stderr`` as ``warning: …`` lines."""

    def emit(self, record: logging.LogRecord) -> None:
        sys.stderr.write(f"{record.levelname.lower()}: {record.getMessage()}\n")


def log_to_stderr(debug: bool) -> None:
    """Show crmkit's warnings (debug: everything) on stderr for this invocation."""
    logger = logging.getLogger("crmkit")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _StderrHandler)]
    logger.addHandler(_StderrHandler())
    logger.setLevel(logging.DEBUG if debug else logging.WARNING)


def format_option(func: Callable) -> Callable:
    """Add ``--format table|json|csv``."""
    return click.option("--format", "fmt", type=click.Choice(FORMATS), default="table",
                        show_default=True, help="Output format.")(func)


def as_of_option(func: Callable) -> Callable:
    """Add ``--as-of DATE`` (default: now, from the CRM clock)."""
    return click.option("--as-of", "as_of", default=None, metavar="DATE",
                        help="Compute as of this ISO date or date-time (default: now).")(func)


def limit_option(what: str, default: int = 100) -> Callable[[Callable], Callable]:
    """Add ``--limit N`` (at least 1; ``default``), helped as "Most WHAT to show."."""
    return click.option("--limit", type=click.IntRange(1), default=default, show_default=True,
                        help=f"Most {what} to show.")


def resolve_as_of(crm, text: str | None) -> dt.datetime:
    """The ``--as-of`` moment: parsed text (a bare date is midnight UTC) or the clock's now."""
    from ..clock import parse_timestamp

    return crm.clock.now() if text is None else parse_timestamp(text, "--as-of")


def output(rows: Iterable[Any], columns: Sequence[str], fmt: str,
           limit: int | None = None, more: str = "raise --limit or page with --offset") -> None:
    """Print ``rows`` (dicts or attrs instances) as an aligned table, a JSON array, or CSV
    with a header.

    In CSV a list of texts (tags) is one cell joined by ``;`` and text cells
    that a spreadsheet would run as a formula get a leading ``'``, as the
    import and export files have them; numbers stay as they are.  When
    ``limit`` is given and the listing reached it, a note on stderr says that
    there may be more and how to see them (``more``), so piped output stays clean.
    """
    raw = [{c: r.get(c) if isinstance(r, dict) else getattr(r, c, None) for c in columns}
           for r in rows]
    rows = [{c: jsonable(v) for c, v in r.items()} for r in raw]
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in raw:
            writer.writerow([_csv_cell(row[c]) for c in columns])
        click.echo(buffer.getvalue(), nl=False)
    else:
        cells = [[_cell(row[c]) for c in columns] for row in rows]
        widths = [max([_width(c)] + [_width(r[i]) for r in cells]) for i, c in enumerate(columns)]
        for line in [columns, *cells]:
            click.echo("  ".join(v + " " * (w - _width(v)) for v, w in zip(line, widths)).rstrip())
        if not cells:
            click.echo("(none)")
    if limit is not None and len(rows) >= limit:
        click.echo(f"note: stopped at --limit {limit}; there may be more ({more})", err=True)



def output_rows(rows: Iterable[Sequence[Any]], columns: Sequence[str], fmt: str,
                text: Sequence[str] = ()) -> None:
    """:func:`output` for rows given as tuples in ``columns`` order; CSV is streamed.

    For large listings: CSV rows are written as they come, each cell as the
    ``csv`` module writes it (``None`` empty, numbers and Decimals as ``str``
    gives them), so pass no booleans or lists; the ``text`` columns (give every
    column that can hold text) are formula-neutralised as :func:`output` does.
    Table and JSON go through :func:`output`.
    """
    if fmt != "csv":
        output([dict(zip(columns, row)) for row in rows], columns, fmt)
        return
    from ..services.records import neutralise

    positions = [list(columns).index(name) for name in text]
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    chunk: list[Sequence[Any]] = []
    for row in rows:
        for i in positions:
            cell = row[i]
            if cell and cell[0] in _FORMULA_STARTS and neutralise(cell) != cell:
                row = [*row[:i], neutralise(cell), *row[i + 1:]]
        chunk.append(row)
        if len(chunk) == 10_000:
            writer.writerows(chunk)
            chunk = []
    writer.writerows(chunk)


def output_document(document: Any, fmt: str) -> None:
    """Print one nested document: JSON for ``json``, indented ``key: value`` lines otherwise."""
    if fmt == "json":
        click.echo(json.dumps(jsonable(document), indent=2, ensure_ascii=False))
        return
    _print_tree(jsonable(document), 0)


def _print_tree(value: Any, indent: int) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                click.echo(f"{pad}{key}:")
                _print_tree(item, indent + 1)
            else:
                click.echo(f"{pad}{key}: {_cell(item)}")
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, (dict, list)):
                click.echo(f"{pad}-")
                _print_tree(item, indent + 1)
            else:
                click.echo(f"{pad}- {_cell(item)}")
    else:
        click.echo(f"{pad}{_cell(value)}")


def _width(text: str) -> int:
    """How many terminal columns ``text`` takes: two for a wide character (Chinese,
    Japanese, Korean), none for a combining mark, one for any other."""
    if text.isascii():
        return len(text)
    return sum(0 if unicodedata.combining(ch) else
               2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _csv_cell(value: Any) -> str:
    """A CSV cell: numbers as they are, a list of texts joined by ``;`` as tags are
    (:func:`crmkit.types.join_tags`), text formula-neutralised like the export's cells."""
    from ..services.records import neutralise
    from ..types import join_tags

    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        text = join_tags(value)
    else:
        text = _cell(jsonable(value))
    return text if isinstance(value, (int, float, Decimal)) else neutralise(text)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def progress(iterable: Iterable[Any], length: int | None, label: str):
    """A progress bar on a terminal; the plain iterable when output is piped."""
    if not sys.stderr.isatty():
        return _Quiet(iterable)
    return click.progressbar(iterable, length=length, label=label, file=sys.stderr)


@contextlib.contextmanager
def status(label: str) -> Iterator[Callable[[str], None]]:
    """Show on a terminal what long work is doing: the context's value, ``say(step)``,
    rewrites one ``label: step`` line on stderr, which is cleared at the end.

    When stderr is piped nothing is written, so scripts see only the result.
    """
    if not sys.stderr.isatty():
        yield lambda step: None
        return
    shown = 0

    def say(step: str) -> None:
        nonlocal shown
        line = f"{label}: {step}"
        sys.stderr.write("\r" + line.ljust(shown))
        sys.stderr.flush()
        shown = len(line)

    say("starting")
    try:
        yield say
    finally:
        sys.stderr.write("\r" + " " * shown + "\r")
        sys.stderr.flush()


class _Quiet:
    def __init__(self, iterable):
        self.iterable = iterable

    def __enter__(self):
        return self.iterable

    def __exit__(self, *exc):
        return False


def config_options(func: Callable) -> Callable:
    """Add the options of a command that shows or changes a configuration (see
    :func:`edited_config`): ``--set KEY=VALUE`` (repeatable), ``--file PATH``, ``--format``."""
    for option in reversed((
        click.option("--set", "assignments", multiple=True, metavar="KEY=VALUE",
                     help="Change one key (dotted keys nest, numbers index arrays: "
                     "tiers.0.threshold=5; VALUE is text for a text key, JSON otherwise; "
                     "for a key of text or null, null is null and '\"null\"' the text)."),
        click.option("--file", "path", type=click.Path(dir_okay=False),
                     help="Replace with a JSON file."),
        click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="json",
                     show_default=True, help="Output format."),
    )):
        func = option(func)
    return func


def edited_config(document: dict, path: str | None, assignments, what: str,
                  schema: dict | None = None) -> dict:
    """``document`` replaced by the JSON file at ``path`` (if given; it must hold an object),
    then each ``--set KEY=VALUE`` applied, its value read by ``schema``'s type at that key."""
    from ..config import require_object, set_path
    from ..errors import ConfigError

    if path:
        document = require_object(load_json_file(path, what), f"{what}: {path}")
    for assignment in assignments:
        key, sep, value = assignment.partition("=")
        if not sep:
            raise click.BadParameter(f"{assignment!r} is not KEY=VALUE", param_hint="--set")
        try:
            document = set_path(document, key, value, schema)
        except ConfigError as exc:
            raise ConfigError(f"{what}: --set {key}: {exc}") from None
    return document


def dash_is_stdout(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Click callback of an output file parameter whose absence means standard output: ``-``
    means it too, as usual on the command line (``./-`` names a file called ``-``)."""
    return None if value == "-" else value


@contextlib.contextmanager
def atomic_write(path: str, prefix: str = ".crmkit-") -> Iterator[IO[str]]:
    """A text handle whose content replaces ``path`` only once all of it is written.

    The content goes to a temporary file in the same directory (mode 0600,
    whatever the umask), is flushed to disk, then renamed over ``path``: an
    existing file is never truncated or left half-written, and the new file is
    readable by its owner only.  On any failure the temporary file is removed
    and ``path`` is untouched; an OS error becomes one :class:`CRMError`.
    """
    from ..errors import CRMError

    def failed(exc: OSError) -> CRMError:
        return CRMError(f"cannot write {path}: {exc.strerror or exc} (nothing was written)")

    folder = os.path.dirname(os.path.abspath(path))
    try:
        handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=folder,
                                             prefix=prefix, delete=False)
    except OSError as exc:
        raise failed(exc) from None
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, path)
    except BaseException as exc:
        os.unlink(handle.name)
        if isinstance(exc, OSError):
            raise failed(exc) from None
        raise


def load_json_file(path: str, what: str) -> Any:
    """Read a JSON document; a missing file or bad JSON is one clear error."""
    from ..errors import ConfigError
    from ..types import parse_json

    try:
        with open(path, encoding="utf-8") as handle:
            return parse_json(handle.read())
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # bad JSON, not UTF-8, or nested too deeply
        raise ConfigError(f"{what}: {path} is not valid JSON: {exc}") from None


__all__ = [
    "FORMATS", "State", "pass_state", "log_to_stderr", "format_option", "as_of_option",
    "limit_option", "resolve_as_of", "jsonable", "output", "output_rows", "output_document",
    "progress", "status",
    "config_options", "edited_config", "dash_is_stdout", "atomic_write", "load_json_file",
]
