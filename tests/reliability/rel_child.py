"""Child processes of the reliability suite: ``python rel_child.py COMMAND ARGS…``.

Commands:

* ``import URL FILE BATCH`` — record the interactions of a JSON Lines file with
  ``crm.interactions.record_many`` (streamed, one transaction per batch), the
  relcheck plugin loaded; relcheck prints ``committed FIRST LAST`` per batch
  when ``RELCHECK_PROGRESS=1``.
* ``record URL WORKER ROUNDS`` — a concurrency worker: records purchases for
  the shared customers (its own external ids plus ids every worker sends),
  redeems loyalty rewards, and reconfigures relcheck's neighbour plugins.
  Prints one JSON line per outcome.

A child never prints a traceback for a planned failure: every CRMError is
printed as ``error: …`` and the exit code is 1; anything else is a bug and
the traceback is left for the parent to report.
"""

from __future__ import annotations

import datetime as dt
import json
import sys

from crmkit.clock import parse_timestamp


def rows_of(path: str):
    """The interaction rows of a JSON Lines file, with ``occurred_at`` parsed."""
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            row["occurred_at"] = parse_timestamp(row["occurred_at"], "occurred_at")
            yield row


def do_import(url: str, path: str, batch: str) -> int:
    import rel_support
    from crmkit import CRM

    with CRM.open(url, extra_plugins=rel_support.local_plugins()) as crm:
        print("started", flush=True)
        result = crm.interactions.record_many(rows_of(path), batch_size=int(batch))
    print(f"done created={result.created} unchanged={result.unchanged}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    from crmkit.errors import CRMError

    command, *args = argv
    try:
        if command == "import":
            return do_import(*args)
        if command == "record":
            import rel_workers

            return rel_workers.worker(*args)
    except CRMError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
