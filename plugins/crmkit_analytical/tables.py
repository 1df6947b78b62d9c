"""The analytical plugin's tables: saved segments, stored lifecycle stages and RFM scores, CLV
runs and predictions, kept CLV fits."""

from __future__ import annotations

from sqlalchemy import (BigInteger, Column, Float, ForeignKey, Index, Integer, LargeBinary,
                        MetaData, SmallInteger, String, Table)

from crmkit.plugin import NAMING, JSONType, Money, UTCDateTime

metadata = MetaData(naming_convention=NAMING)

segments = Table(
    "analytical_segments", metadata,
    Column("name", String(100), primary_key=True),
    Column("description", String(500)),
    Column("condition", JSONType, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
)
"""Saved segment definitions: a condition over customer fields, evaluated in SQL by name."""

lifecycle = Table(
    "analytical_lifecycle", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("stage", String(20), nullable=False),
    Column("previous_stage", String(20)),
    Column("changed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""The last stored lifecycle stage per customer (written by the sweep / ``lifecycle --update``)."""


rfm_sweep = Table(
    "analytical_rfm_sweep", metadata,
    Column("id", Integer, primary_key=True),
    Column("as_of", UTCDateTime, nullable=False),
    Column("settings", JSONType, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)
"""The one row (id 1) saying when the sweep last stored RFM scores and under which settings
(the kinds and ``rfm`` configuration the scores depend on)."""

rfm_scores = Table(
    "analytical_rfm_scores", metadata,
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("last_day", Integer, nullable=False),
    Column("frequency", Integer, nullable=False),
    Column("net", BigInteger, nullable=False),
    Column("r", SmallInteger, nullable=False),
    Column("f", SmallInteger, nullable=False),
    Column("m", SmallInteger, nullable=False),
    Column("segment", String(60)),
)
"""Every scored customer's RFM as the last sweep stored it: the day number of the last
purchase, F, net spend in money units, the scores and the segment (erased customers are
never stored)."""


def _fitted_columns() -> list[Column]:
    """The columns a stored run and a kept fit share (new Column objects for each table):
    the fit's ``as_of``, when and by whom it was kept, and the fitted parameters."""
    return [Column("as_of", UTCDateTime, nullable=False),
            Column("created_at", UTCDateTime, nullable=False),
            Column("actor", String(200), nullable=False),
            Column("bgnbd", JSONType, nullable=False),
            Column("gamma_gamma", JSONType, nullable=False)]


clv_runs = Table(
    "analytical_clv_runs", metadata,
    Column("id", Integer, primary_key=True),
    *_fitted_columns(),
    Column("settings", JSONType, nullable=False),
    Column("customers", Integer, nullable=False),
    Column("total_clv", Money, nullable=False),
)
"""One stored CLV fit + prediction: settings, fitted parameters and totals."""

clv_predictions = Table(
    "analytical_clv_predictions", metadata,
    Column("run_id", Integer, ForeignKey("analytical_clv_runs.id"), primary_key=True),
    Column("customer_id", Integer, ForeignKey("customers.id"), primary_key=True),
    Column("frequency", Integer, nullable=False),
    Column("recency", Float, nullable=False),
    Column("age", Float, nullable=False),
    Column("monetary", Money, nullable=False),
    Column("p_alive", Float, nullable=False),
    Column("expected_purchases", Float, nullable=False),
    Column("expected_spend", Money, nullable=False),
    Column("clv", Money, nullable=False),
    Index("ix_analytical_clv_predictions_customer", "customer_id"),
)
"""Per-customer predictions of a stored run (``age`` is the model's T)."""

clv_fits = Table(
    "analytical_clv_fits", metadata,
    Column("id", Integer, primary_key=True),
    *_fitted_columns(),
    Column("time_unit", String(10), nullable=False),
    Column("settings", JSONType),
    Column("summary", LargeBinary),
)
"""Fitted model parameters kept by ``clv fit`` (a stored run keeps its own in ``clv_runs``);
``settings``: what the fit depends on (fit settings, the data version) and ``summary``: the
calibration summary it was fitted on (numpy ``.npz``), both for reuse by ``clv predict``;
NULL for fits kept before they were recorded."""

ALL = [segments, lifecycle, rfm_sweep, rfm_scores, clv_runs, clv_predictions, clv_fits]
