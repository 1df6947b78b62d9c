"""Fixtures of the webhook tests: real receiver and ``crmkit worker`` processes (support.py),
each killed at the end of the test that started it."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest

from .support import DEADLINE_S, Receiver, worker_command, worker_env


@pytest.fixture
def receiver(tmp_path):
    """``receiver(fail=N, hold=N)`` starts a receiver process; all are stopped afterwards."""
    started: list[Receiver] = []

    def start(**options) -> Receiver:
        started.append(Receiver(tmp_path, **options))
        return started[-1]

    yield start
    for item in started:
        item.stop()


@pytest.fixture
def worker(crm_url):
    """``worker.run(now, *args)`` runs ``crmkit worker --once`` to its end (returns the
    CompletedProcess); ``worker.start(now, *args)`` starts one and returns the Popen.
    Started workers still running at the end are killed."""
    started: list[subprocess.Popen] = []

    class Runner:
        @staticmethod
        def run(now: dt.datetime, *args: str) -> subprocess.CompletedProcess:
            done = subprocess.run(worker_command("--once", *args), env=worker_env(crm_url, now),
                                  capture_output=True, text=True, timeout=DEADLINE_S)
            assert done.returncode == 0, done.stderr
            return done

        @staticmethod
        def start(now: dt.datetime, *args: str) -> subprocess.Popen:
            process = subprocess.Popen(worker_command(*args), env=worker_env(crm_url, now),
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started.append(process)
            return process

    yield Runner
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()
