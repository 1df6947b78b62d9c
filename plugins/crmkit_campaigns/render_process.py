"""Templates render in a child process with operating-system limits on CPU time and memory.

Jinja2's sandbox keeps a template away from Python's internals, but not from
the processor or the memory: nested loops (``range(100000)`` inside
``range(100000)``), a power (``9 ** (9 ** 9)``) or a filter padding a text to a
billion characters run in C, out of reach of any check made in the worker.  So
the worker renders in one long-lived child process (this module run with
``python -m``), one message at a time, under two limits from the configuration's
``render``:

* ``cpu_seconds``: before each message the child's ``RLIMIT_CPU`` is set to the
  CPU seconds it has used (rounded up) plus ``cpu_seconds``; past it the kernel
  ends the child (``SIGXCPU``) and that message fails with ``took more than N s
  of CPU``.  CPU time, not wall time: a loaded machine slows a render without
  failing it.
* ``memory_mb``: the child's address space (``RLIMIT_AS``) may grow that much
  past what it had once started (Linux); an allocation beyond it fails and the
  message fails with ``needed more than N MB of memory``.

A child killed while rendering fails that message (``the render process was ended
(signal …)``) and the next message starts a new one; a child that exits by itself
(an error of crmkit's, reported on standard error) fails the job.  A batch of
messages goes to the child as one JSON line on its standard input; an answer comes
back for each message as a JSON line, as soon as it is rendered.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import resource
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

import attrs

from .settings import Limits
from .templates import RenderError, render


@attrs.frozen
class Task:
    """One message to render: its template, its subject template (None: none) and the values
    they see (:func:`.templates.context`)."""

    template: str
    subject: str | None
    values: dict[str, Any]


@attrs.frozen
class Rendered:
    """A rendered message: body and subject, the template's own links marked."""

    body: str
    subject: str | None


class Renderer:
    """Renders messages in a child process under ``limits``; thread-safe (one batch at a
    time), the child started on first use and replaced whenever it ends."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self._lock = threading.Lock()
        self._child: subprocess.Popen | None = None

    def render_many(self, tasks: list[Task]) -> list[Rendered | RenderError]:
        """Each task's message, or the RenderError saying why it could not be rendered: the
        template failed for its values, it passed a limit, or its process was killed (the
        tasks after it go to a new one).  A child that exits by itself (an error of
        crmkit's) raises RuntimeError."""
        results: list[Rendered | RenderError] = []
        with self._lock:
            while len(results) < len(tasks):
                rest = tasks[len(results):]
                answers = self._ask(rest)
                results += [RenderError(a["error"]) if "error" in a
                            else Rendered(a["body"], a["subject"]) for a in answers]
                if len(answers) < len(rest):
                    results.append(self._killed(self._ended()))
        return results

    def close(self) -> None:
        """End the child process, if there is one."""
        with self._lock:
            if self._child is not None:
                self._child.stdin.close()
                self._ended()

    def _ask(self, tasks: list[Task]) -> list[dict[str, Any]]:
        """The child's answers to ``tasks``, in order: fewer when it ended on the next one.
        The request is one line, read whole before any answer is written (so that neither
        side can wait on a full pipe), each template sent once."""
        if self._child is not None and self._child.poll() is not None:
            self._ended()  # ended while idle (killed from outside): not a task's doing
        child = self._child or self._start()
        texts: dict[str, int] = {}
        for task in tasks:
            for text in (task.template, task.subject):
                if text is not None:
                    texts.setdefault(text, len(texts))
        request = {"templates": list(texts),
                   "tasks": [[texts[t.template], None if t.subject is None else texts[t.subject],
                              t.values] for t in tasks]}
        try:
            child.stdin.write(json.dumps(request) + "\n")
            child.stdin.flush()
        except BrokenPipeError:
            return []
        answers = []
        for _ in tasks:
            line = child.stdout.readline()
            if not line:
                break
            answers.append(json.loads(line))
        return answers

    def _killed(self, code: int) -> RenderError:
        """The error of the task whose process ended with ``code``; RuntimeError when it
        exited by itself (crmkit's own code failed, not the template)."""
        if code >= 0:
            raise RuntimeError(f"the campaigns render process failed ({_how(code)}); "
                               "its error is above")
        if code == -signal.SIGXCPU:
            return RenderError(f"took more than {self.limits.cpu_seconds} s of CPU "
                               "(campaigns render.cpu_seconds)")
        return RenderError(f"the render process was ended ({_how(code)})")

    def _start(self) -> subprocess.Popen:
        """A new child (this plugin's folder on its path, as it is on ours)."""
        here = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [here, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])}
        child = subprocess.Popen(
            [sys.executable, "-m", __name__, "--cpu-seconds", str(self.limits.cpu_seconds),
             "--memory-mb", str(self.limits.memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8",
            env=env)
        if child.stdout.readline() != '{"ready": true}\n':
            child.kill()
            child.wait()
            raise RuntimeError(f"the campaigns render process did not start "
                               f"({_how(child.returncode)}); its error is above")
        self._child = child
        return child

    def _ended(self) -> int:
        """Wait for the child to end (it has, or its input is closed); its return code."""
        child, self._child = self._child, None
        code = child.wait()
        child.stdout.close()
        return code


def _how(code: int | None) -> str:
    if code is not None and code < 0:
        return f"signal {signal.Signals(-code).name}"
    return f"exit code {code}"


_renderers: dict[Limits, Renderer] = {}
_renderers_lock = threading.Lock()


def renderer(limits: Limits) -> Renderer:
    """The process's renderer for ``limits`` (one child process per distinct limits, ended at
    exit)."""
    with _renderers_lock:
        if limits not in _renderers:
            _renderers[limits] = Renderer(limits)
        return _renderers[limits]


@atexit.register
def _close_all() -> None:
    for each in list(_renderers.values()):
        each.close()


# -- the child ---------------------------------------------------------------------------------

def _limit_memory(memory_mb: int) -> None:
    """Let the address space grow ``memory_mb`` past its size now (Linux: /proc)."""
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[0])
    except OSError:
        return
    limit = pages * os.sysconf("SC_PAGE_SIZE") + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))


def _limit_cpu(cpu_seconds: int) -> None:
    """End this process (SIGXCPU) once it has used ``cpu_seconds`` more CPU seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _answer(template: str, subject: str | None, values: dict[str, Any], memory_mb: int
            ) -> dict[str, Any]:
    try:
        body = render(template, values)
        title = None if subject is None else render(subject, values)
    except (RenderError, MemoryError) as exc:
        if isinstance(exc, MemoryError) or isinstance(exc.__cause__, MemoryError):
            return {"error": f"needed more than {memory_mb} MB of memory "
                             "(campaigns render.memory_mb)"}
        return {"error": str(exc)}
    return {"body": body, "subject": title}


def main(argv: list[str] | None = None) -> None:
    """Render the batches of tasks read from standard input, one JSON line each, answering
    each task on a line of standard output (which nothing else may write to)."""
    parser = argparse.ArgumentParser(description="crmkit campaigns: render messages")
    parser.add_argument("--cpu-seconds", type=int, required=True)
    parser.add_argument("--memory-mb", type=int, required=True)
    args = parser.parse_args(argv)
    answers: IO[str] = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU would dump a core
    _limit_memory(args.memory_mb)
    answers.write('{"ready": true}\n')
    answers.flush()
    for line in sys.stdin:
        request = json.loads(line)
        texts = request["templates"]
        for template, subject, values in request["tasks"]:
            _limit_cpu(args.cpu_seconds)
            answer = _answer(texts[template], None if subject is None else texts[subject],
                             values, args.memory_mb)
            answers.write(json.dumps(answer) + "\n")
            answers.flush()  # so that the parent knows which task a killed child was on


if __name__ == "__main__":
    main()
