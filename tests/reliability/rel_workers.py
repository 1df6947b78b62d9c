"""The concurrency experiment: several processes writing to the same customers at once.

:func:`prepare` builds the database; :func:`worker` is one process
(``python rel_child.py record URL WORKER ROUNDS``).  Each round a worker:

* records one purchase of 10.00 for every shared customer under its own
  external id ``W<worker>-<round>-<customer>`` and one under the id
  ``S-<round>-<customer>`` that every worker sends with identical content
  (exactly one of them may store it, the others must find it ``unchanged``);
* redeems reward ``MUG`` (50 points, stock :data:`STOCK`) for one customer;
* administers plugins: worker 0 disables and re-enables ``relfaulty``, the
  others reconfigure it.

Every outcome is printed as one JSON line ``{"op", "ok", "error"}`` so the
parent can reconcile the database with what each process was told.  A
CRMError is an outcome (``NotEnoughPoints``, ``OutOfStock``, ``relfaulty is
not enabled`` are expected races); anything else escapes as a traceback and
fails the test.
"""

from __future__ import annotations

import datetime as dt
import json

import rel_support

CUSTOMERS = ("C1", "C2", "C3")
"""The customers every worker writes to."""
STOCK = 7
"""Units of the MUG reward: fewer than the redemptions attempted, so stock runs out mid-run."""
MUG_POINTS = 50
AMOUNT = "10.00"
LOYALTY = {"points_per_unit": 1, "milestones": [], "expiry_mode": "none",
           "tiers": [{"name": "member", "threshold": 0, "multiplier": 1}]}
"""Loyalty earns exactly 10 points per purchase here: no milestones, one tier, no expiry."""
T0 = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def prepare(url: str, clock) -> dict[str, str]:
    """Every plugin enabled (loyalty as :data:`LOYALTY`), the customers with 60 points each, the reward."""
    with rel_support.open_crm(url, clock) as crm:
        failures = rel_support.enable_everything(crm, {"loyalty": LOYALTY})
        crm.plugins.enable("relfaulty")
        for external_id in CUSTOMERS:
            crm.customers.add(external_id, f"Shared {external_id}")
            for n in range(6):
                crm.interactions.record(external_id, T0 + dt.timedelta(hours=n), amount=AMOUNT,
                                        external_id=f"P-{external_id}-{n}")
        if "loyalty" not in failures:
            crm.plugin("loyalty").add_reward("MUG", MUG_POINTS, stock=STOCK, name="Mug")
    return failures


def _outcome(op: str, fn) -> None:
    from crmkit.errors import CRMError

    try:
        fn()
        print(json.dumps({"op": op, "ok": True}), flush=True)
    except CRMError as exc:
        print(json.dumps({"op": op, "ok": False, "error": f"{type(exc).__name__}: {exc}"}),
              flush=True)


def worker(url: str, number: str, rounds: str) -> int:
    """One concurrent writer; prints one JSON line per operation."""
    from crmkit import CRM

    me = int(number)
    with CRM.open(url, extra_plugins=rel_support.local_plugins()) as crm:
        loyalty = "loyalty" in crm.enabled_plugins()
        for r in range(int(rounds)):
            at = T0 + dt.timedelta(days=1 + r, minutes=me)
            for c in CUSTOMERS:
                _outcome(f"record W{me}-{r}-{c}", lambda: crm.interactions.record(
                    c, at, amount=AMOUNT, external_id=f"W{me}-{r}-{c}"))
                _outcome(f"record S-{r}-{c}", lambda: crm.interactions.record(
                    c, T0 + dt.timedelta(days=1 + r), amount=AMOUNT, external_id=f"S-{r}-{c}"))
            if loyalty:
                customer = CUSTOMERS[(me + r) % len(CUSTOMERS)]
                _outcome(f"redeem {customer}", lambda: crm.plugin("loyalty").redeem(customer, "MUG"))
            if me == 0:
                _outcome("disable relfaulty", lambda: crm.plugins.disable("relfaulty"))
                _outcome("enable relfaulty", lambda: crm.plugins.enable("relfaulty"))
            else:
                fail = ["sweep"] if r % 2 else []
                _outcome("configure relfaulty",
                         lambda: crm.plugins.configure("relfaulty", {"fail": fail}))
    return 0
