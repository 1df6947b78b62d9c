"""``crmkit demo`` plays the seed scenario: browsers who did not buy get a coupon email through
the triggered campaign, and the purchases with those coupons are credited to it."""

from __future__ import annotations

import json


def test_the_demo_runs_the_browse_coupon_campaign(run_cli):
    code, out, err = run_cli("demo", "--customers", "200")
    assert code == 0, err
    [line] = [x for x in out.splitlines() if "browsed-no-purchase (triggered" in x]
    code, out, _ = run_cli("campaigns", "report", "browsed-no-purchase", "--format", "json")
    report = json.loads(out)
    code, out, _ = run_cli("campaigns", "coupons", "browsed-no-purchase", "--format", "json")
    coupons = json.loads(out)
    used = [c for c in coupons if c["uses"] == 1]
    assert report["recipients"] == len(coupons) > 0
    assert report["converted"] == len(used) > 0
    assert f"{report['recipients']} coupon emails rendered; {len(used)} bought" in line
