"""``crmkit import customers|interactions FILE`` and ``crmkit export customers|interactions [FILE]``."""

from __future__ import annotations

import contextlib
import sys

import click

from .common import atomic_write, dash_is_stdout, pass_state, status

KINDS = click.Choice(["customers", "interactions"])
FILE_FORMATS = click.Choice(["csv", "jsonl"])


@contextlib.contextmanager
def _progress_bar(label: str, length: int):
    """A byte-counting progress bar on a terminal; nothing when stderr is piped."""
    if not sys.stderr.isatty():
        yield None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


@click.command("import")
@click.argument("kind", type=KINDS)
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "file_format", type=FILE_FORMATS,
              help="File format (default: from the extension: .csv, .jsonl, .ndjson).")
@click.option("--create-customers", is_flag=True,
              help="Interactions: create unknown customers from their external id.")
@click.option("--skip-invalid", is_flag=True,
              help="Write the good rows and report the bad ones (default: any bad row "
                   "rejects the file).")
@click.option("--dry-run", is_flag=True, help="Check everything, write nothing, say what "
              "would happen.")
@click.option("--batch-size", type=click.IntRange(1, 1_000_000),
              help="Rows checked and written per pipeline batch (default: as many as a "
                   "fixed memory budget holds).")
@pass_state
def import_(state, kind, file, file_format, create_customers, skip_invalid, dry_run,
            batch_size) -> None:
    """Import customers or interactions from FILE (CSV or JSON Lines).

    KIND is customers or interactions.  Every row is checked once; any bad
    row writes nothing (unless --skip-invalid) and every bad row is reported
    as "line N: field: problem".  Customers are
    upserted by external id; re-importing the same file changes nothing.

    \b
    Examples:
      crmkit import customers customers.csv --dry-run
      crmkit import interactions orders.jsonl --create-customers --skip-invalid
    """
    from ..errors import ValidationError
    from ..services.importing import ImportRejected, import_file

    with state.open() as crm:
        try:
            report = import_file(crm, kind, file, file_format, create_customers=create_customers,
                                 skip_invalid=skip_invalid, dry_run=dry_run,
                                 batch_size=batch_size, progress=_progress_bar)
        except ImportRejected as exc:
            _print_problems(exc.report)
            click.echo(exc.report.summary())
            raise ValidationError(f"{exc.report.rejected} bad row(s), nothing written: fix "
                                  "the rows above, or use --skip-invalid to write the good "
                                  "rows") from None
    _print_problems(report)
    if report.dry_run:
        click.echo("dry run, nothing written; it would have: " + report.summary())
    else:
        click.echo(report.summary())
    if report.new_customers:
        verb = "would create" if report.dry_run else "created"
        click.echo(f"{verb} {report.new_customers} new customer(s) from interaction rows")
    for message in report.after_commit_errors:
        click.echo(f"warning: {message}", err=True)


def _print_problems(report) -> None:
    for where, field, message in report.problems:
        click.echo(f"{where}: {field}: {message}", err=True)
    if report.problems_not_kept:
        click.echo(f"... and {report.problems_not_kept} more problems", err=True)


@click.command("export")
@click.argument("kind", type=KINDS)
@click.argument("file", required=False, type=click.Path(dir_okay=False, allow_dash=True),
                callback=dash_is_stdout)
@click.option("--format", "file_format", type=FILE_FORMATS,
              help="File format (default: from FILE's extension, csv on standard output).")
@pass_state
def export(state, kind, file, file_format) -> None:
    """Export every customer or interaction to FILE (or standard output).

    KIND is customers or interactions; without FILE, or with FILE -, the
    export goes to standard output.  The columns are the import columns, so
    the file imports again unchanged.  CSV cells starting with = + - @ tab or
    CR are prefixed with ' (formula injection); import removes that prefix.

    \b
    Examples:
      crmkit export customers customers.csv
      crmkit export interactions - --format jsonl | gzip > interactions.jsonl.gz
    """
    from ..services.exporting import export as run_export
    from ..services.records import file_format as detect

    fmt = file_format or (detect(file, None) if file else "csv")
    with state.open() as crm, status(f"export {kind}") as say:
        def written(count: int) -> None:
            say(f"{count:,} rows written")

        if file is None:
            run_export(crm, kind, sys.stdout, fmt, written)
            return
        with atomic_write(file, ".crmkit-export-") as handle:
            count = run_export(crm, kind, handle, fmt, written)
    click.echo(f"exported {count} {kind} to {file}", err=True)
