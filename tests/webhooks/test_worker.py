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
        assert [job.name for job in collect_jobs(crm)] == ["webhooks.deliver", "messages.send",
                                                           "sms.send"]
        runner = Worker(crm, batch_size=7, worker_id="w1")
        assert runner.drain() == 5
        assert runner.handled == {"webhooks.deliver": 0, "messages.send": 0, "sms.send": 5}
        assert seen == [("sms.send", clock.now(), 7, "w1")] * 3
        crm.plugins.disable("sms")
        assert [job.name for job in collect_jobs(crm)] == ["webhooks.deliver", "messages.send"]


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
     "plugin 'odd': crmkit_worker_jobs: 'webhooks.deliver' is already provided by core"),
])
def test_bad_jobs_are_a_plugin_error_naming_the_plugin(crm_url, clock, jobs, message):
    with open_with(crm_url, clock, odd=plugin_with_jobs("odd", jobs)) as crm:
        with pytest.raises(PluginError) as caught:
            collect_jobs(crm)
        assert str(caught.value) == message


def test_a_serving_worker_goes_on_after_a_failing_job(crm_url, clock, caplog):
    calls: list[str] = []

    def flaky(ctx) -> int:
        calls.append("run")
        if len(calls) == 1:
            raise RuntimeError("the gateway is down")
        runner.stop.set()  # as SIGTERM would
        return 0

    with open_with(crm_url, clock, flaky=plugin_with_jobs("flaky", [Job("flaky.send", flaky)])
                   ) as crm:
        runner = Worker(crm)
        assert runner.serve(poll_seconds=0.01) == 0
        assert calls == ["run", "run"] and runner.errors == []
    assert [r.getMessage() for r in caplog.records if r.name == "crmkit.worker"] == [
        "job flaky.send failed: RuntimeError: the gateway is down"]


FLAKY_MODULE = '''
import crmkit

PLUGIN = crmkit.PluginInfo(name="flakyjobs", description="a job that fails")


def fail(ctx):
    raise RuntimeError("the gateway is down")


@crmkit.hookimpl
def crmkit_worker_jobs(crm):
    from crmkit.plugin import Job

    return [Job("flakyjobs.send", fail)]
'''


def test_worker_once_with_a_failing_job_exits_1_with_one_error_line(run_cli, tmp_path,
                                                                     monkeypatch):
    (tmp_path / "crmkit_flakyjobs_module.py").write_text(FLAKY_MODULE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins = ("crmkit_flakyjobs_module",)
    assert run_cli("init")[0] == 0
    assert run_cli("plugins", "enable", "flakyjobs", plugins=plugins)[0] == 0
    code, out, err = run_cli("worker", "--once", plugins=plugins)
    assert (code, out.strip()) == (1, "handled 0 items")
    assert err.strip().splitlines() == [
        "error: job flakyjobs.send failed: RuntimeError: the gateway is down"]
