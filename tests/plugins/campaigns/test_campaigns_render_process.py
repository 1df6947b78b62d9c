"""The render process: a child ended between batches is replaced without failing a message."""

from __future__ import annotations

import os
import signal

from crmkit_campaigns.render_process import Rendered, Renderer, Task
from crmkit_campaigns.settings import Limits


def test_a_render_process_killed_while_idle_is_replaced_without_failing_a_message():
    renderer = Renderer(Limits(cpu_seconds=1, memory_mb=512))
    try:
        assert renderer.render_many([Task("Hi {{ name }}", "For {{ name }}", {"name": "Ann"})]) == [
            Rendered("Hi Ann", "For Ann")]
        first = renderer._child
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
        assert renderer.render_many([Task("Hi {{ name }}", None, {"name": "Bob"}),
                                     Task("Hi {{ name }}", None, {"name": "Cy"})]) == [
            Rendered("Hi Bob", None), Rendered("Hi Cy", None)]
        assert renderer._child is not first
    finally:
        renderer.close()
