"""``crmkit worker``: run deferred work (webhook deliveries, plugins' outboxes)."""

from __future__ import annotations

import click

from .common import pass_state


@click.command()
@click.option("--once", is_flag=True,
              help="Handle everything due now, then exit (for cron and tests).")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=100, show_default=True,
              help="Items a job claims and handles at a time.")
@click.option("--poll-seconds", type=click.FloatRange(0.05, 3600), default=1.0,
              show_default=True, help="How long an idle worker waits before looking again.")
@pass_state
def worker(state, once, batch_size, poll_seconds) -> None:
    """Run deferred work: deliver webhooks, send queued messages, run plugins' jobs.

    Without --once the worker polls until SIGTERM or SIGINT, then finishes the
    job in hand (webhooks: the delivery in hand, handing back the rest of the
    batch) and exits (a second signal stops it at once); a failing job
    is logged and tried again.  With --once, a failing job is logged, the
    others still run, and the exit code is 1.  On PostgreSQL
    several workers can run at once: each claims different rows.  On SQLite run
    one.  A worker that is killed loses nothing: what it had claimed is claimed
    again once its lease (batch size x timeout + 60 s for webhooks, core config
    messages.lease_seconds for messages) has passed.

    \b
    Example:
      crmkit worker --once --batch-size 50
    """
    import signal

    from ..worker import Worker

    with state.open() as crm:
        runner = Worker(crm, batch_size=batch_size)

        def stop(signum, _frame) -> None:
            runner.stop.set()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)

        previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            if once:
                total = runner.drain()
            else:
                click.echo(f"worker {runner.worker_id} started; stop with SIGTERM or Ctrl-C")
                total = runner.serve(poll_seconds)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    by_job = ", ".join(f"{name} {count}" for name, count in sorted(runner.handled.items()) if count)
    click.echo(f"handled {total} item{'s' if total != 1 else ''}"
               + (f" ({by_job})" if by_job else ""))
    if runner.errors:
        from ..errors import CRMError

        raise CRMError("; ".join(runner.errors))
