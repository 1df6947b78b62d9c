"""The worker runs every enabled plugin's jobs (``crmkit_worker_jobs``) beside the core's."""

from __future__ import annotations

import types

import pytest

import crmkit
from crmkit import CRM
from crmkit.errors import PluginError
from crmkit.plugin import Job
from crmkit.worker import Worker, collect_jobs


def plugin_with_jobs(name: str, jobs) -> types.ModuleType:
    module = types.ModuleType(f"plugin_{name}")
    module.PLUGIN = crmkit.PluginInfo(name=name, description=f"{name} test plugin")
    module.crmkit_worker_jobs = crmkit.hookimpl(lambda crm: jobs)
    return module


def ticking(name: str, batches: list[int], seen: list) -> Job:
    """A job whose successive batches handle ``batches`` items, then nothing."""
    def run(ctx) -> int:
        seen.append((name, ctx.now, ctx.batch_size, ctx.worker_id))
        return batches.pop(0) if batches else 0
    return Job(name, run)


def open_with(crm_url, clock, **plugins) -> CRM:
    crm = CRM.open(crm_url, clock=clock, create=True, extra_plugins=plugins)
    for name in plugins:
        crm.plugins.enable(name)
    return crm


def test_plugin_jobs_run_until_nothing_is_due(crm_url, clock):
    seen: list = []
    sms = plugin_with_jobs("sms", [ticking("sms.send", [3, 2], seen)])
    with open_with(crm_url, clock, sms=sms) as crm:
        assert [job.name for job in collect_jobs(crm)] == ["webhooks.deliver", "sms.send"]
        runner = Worker(crm, batch_size=7, worker_id="w1")
        assert runner.drain() == 5
        assert runner.handled == {"webhooks.deliver": 0, "sms.send": 5}
        assert seen == [("sms.send", clock.now(), 7, "w1")] * 3
        crm.plugins.disable("sms")
        assert [job.name for job in collect_jobs(crm)] == ["webhooks.deliver"]


def test_a_failing_job_is_reported_and_the_others_still_run(crm_url, clock):
    seen: list = []

    def boom(ctx) -> int:
        seen.append("boom")
        raise RuntimeError("the gateway is down")

    broken = plugin_with_jobs("broken", [Job("broken.send", boom),
                                         Job("broken.count", lambda ctx: None)])
    sms = plugin_with_jobs("sms", [ticking("sms.send", [4], seen)])
    with open_with(crm_url, clock, broken=broken, sms=sms) as crm:
        runner = Worker(crm)
        assert runner.drain() == 4
        assert runner.errors == [
            "job broken.send failed: RuntimeError: the gateway is down",
            "job broken.count failed: its run returned None, not how many items "
            "it handled (0 when nothing was due)"]
        assert seen.count("boom") == 1  # a failed job is not run again in the same drain


@pytest.mark.parametrize("jobs, message", [
    (["not a job"], "plugin 'odd': crmkit_worker_jobs must return crmkit.plugin.Job objects, "
                    "got str"),
    ([Job("webhooks.deliver", lambda ctx: 0)],
     "plugin 'odd': worker job 'webhooks.deliver' is already defined by core"),
])
def test_bad_jobs_are_a_plugin_error_naming_the_plugin(crm_url, clock, jobs, message):
    with open_with(crm_url, clock, odd=plugin_with_jobs("odd", jobs)) as crm:
        with pytest.raises(PluginError) as caught:
            collect_jobs(crm)
        assert str(caught.value) == message
