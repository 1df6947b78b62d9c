"""social's public API: ``crm.plugin("social")``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Callable, Iterable

import attrs
from sqlalchemy import and_, case, func, or_, select

from crmkit.plugin import (PluginAPI, Sentiment, SourceFile, ValidationError, checked_import,
                           customers, ensure_utc, score_texts)

from . import engagement as engagement_rules
from . import identities as identity_rules
from . import mentions as mention_rules, referrals as referral_rules, sentiment
from .settings import Settings
from .tables import identities, mentions, referral_codes, referrals


@attrs.frozen
class Mention:
    """A stored mention with its sentiment label under the current thresholds."""

    id: int
    platform: str
    post_id: str
    handle: str
    customer_id: int | None
    external_id: str | None
    text: str | None
    posted_at: dt.datetime
    likes: int
    comments: int
    shares: int
    sentiment: float | None
    language: str | None
    unscored_reason: str | None
    label: str


@attrs.frozen
class SentimentSummary:
    """Mentions per sentiment label in a window."""

    mentions: int
    positive: int
    neutral: int
    negative: int
    average: float | None
    unscored: int = 0


class SocialAPI(PluginAPI):
    """Identities, mentions and sentiment, engagement, referrals."""

    plugin = "social"
    settings_class = Settings

    def _as_of(self, as_of: dt.datetime | None) -> dt.datetime:
        return self.crm.clock.now() if as_of is None else ensure_utc(as_of, "as_of")

    # -- identities ----------------------------------------------------------------------

    def link_handle(self, external_id: str, platform: str, handle: str) -> bool:
        """Link a handle to a customer (``@Alice`` and ``alice`` are the same); False if already linked.

        A handle another customer owns is a ConflictError naming that customer.
        """
        customer = self.crm.customers.get(external_id)
        with self.crm.transaction() as tx:
            return identity_rules.link(tx.context("social"), customer.id, external_id, platform,
                                       handle)

    def unlink_handle(self, external_id: str, platform: str, handle: str) -> None:
        """Remove a customer's handle."""
        customer = self.crm.customers.get(external_id)
        with self.crm.transaction() as tx:
            identity_rules.unlink(tx.context("social"), customer.id, external_id, platform, handle)

    def handles(self, customer_id: int | None = None) -> list[tuple[int, str, str]]:
        """``(customer_id, platform, normalised handle)`` of one customer or everyone."""
        i = identities.c
        query = select(i.customer_id, i.platform, i.handle).order_by(i.customer_id, i.platform,
                                                                     i.handle)
        if customer_id is not None:
            query = query.where(i.customer_id == customer_id)
        with self.crm.read() as conn:
            return [tuple(r) for r in conn.execute(query)]

    def identities(self, customer: str | None = None, after: tuple[str, int] | None = None,
                   limit: int | None = None) -> list[dict[str, Any]]:
        """Linked handles with the owner's external id and when they were linked, by owner,
        then in the order they were linked: with ``after`` (an owner's external id and an
        identity's ``id``), those after it; with ``limit``, at most that many."""
        i, owner = identities.c, customers.c.external_id
        query = (select(i.id, owner.label("customer"), i.platform, i.handle, i.linked_at)
                 .join(customers, customers.c.id == i.customer_id)
                 .order_by(owner, i.id).limit(limit))
        if customer is not None:
            query = query.where(i.customer_id == self.crm.customers.get(customer).id)
        if after is not None:
            query = query.where(or_(owner > after[0], and_(owner == after[0], i.id > after[1])))
        with self.crm.read() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def owner(self, platform: str, handle: str) -> str | None:
        """External id of the customer owning a handle, or None."""
        platform = identity_rules.normalise_platform(platform)
        handle = identity_rules.normalise_handle(handle, platform)
        with self.crm.read() as conn:
            found = identity_rules.owner(conn, platform, handle)
        return found[1] if found else None

    # -- mentions -----------------------------------------------------------------------------

    def import_mentions(self, records: Iterable[dict[str, Any]],
                        labels: list[str] | None = None) -> mention_rules.ImportResult:
        """Check every record (against the core config the transaction reads), then store them
        all in that one transaction (nothing if any is bad)."""
        records = list(records)
        labels = labels or [f"row {n + 1}" for n in range(len(records))]
        with self.crm.transaction() as tx:
            rows = mention_rules.check(self.crm, records, labels)
            return mention_rules.store(tx.context("social"), rows)

    def import_file(self, path: str, fmt: str | None = None) -> mention_rules.ImportResult:
        """Import a CSV or JSON Lines file of mentions; every bad line is reported as
        ``line N: field: problem``.  The file is read and checked before the transaction
        opens, and again if the core config or the plugins changed meanwhile
        (:func:`crmkit.plugin.checked_import`)."""
        def checked(source: SourceFile) -> list[dict[str, Any]]:
            return mention_rules.check(self.crm, *source.read_all())

        def stored(tx, rows: list[dict[str, Any]]) -> mention_rules.ImportResult:
            return mention_rules.store(tx.context("social"), rows)

        return checked_import(self.crm, path, fmt, checked, stored)

    def score(self, text: str) -> tuple[float | None, str]:
        """The score of ``text`` by the analyser for its language and its label (``unscored``
        with no score when no analyser handles the language)."""
        result = self.analyse(text)
        return result.score, sentiment.label(result.score, result.language, self.settings)

    def analyse(self, text: str) -> Sentiment:
        """Score, language, analyser (or the reason it is unscored) of one text."""
        return score_texts(self.crm, [text])[0]

    def mentions(self, customer: str | None = None, label: str | None = None,
                 since: dt.datetime | None = None, as_of: dt.datetime | None = None,
                 limit: int | None = 100) -> list[Mention]:
        """Mentions posted up to ``as_of``, newest first, optionally of one customer or label."""
        if label is not None and label not in sentiment.LABELS:
            raise ValidationError(f"label: {label!r} is not one of {', '.join(sentiment.LABELS)}")
        m = mentions.c
        mood = sentiment.label_sql(m.sentiment, m.language, self.settings)
        query = (select(m.id, m.platform, m.post_id, m.handle, m.customer_id,
                        customers.c.external_id, m.text, m.posted_at, m.likes, m.comments,
                        m.shares, m.sentiment, m.language, m.unscored_reason, mood.label("label"))
                 .outerjoin(customers, customers.c.id == m.customer_id)
                 .where(m.posted_at <= self._as_of(as_of))
                 .order_by(m.posted_at.desc(), m.id.desc()))
        if customer is not None:
            query = query.where(m.customer_id == self.crm.customers.get(customer).id)
        if label is not None:
            query = query.where(mood == label)
        if since is not None:
            query = query.where(m.posted_at >= ensure_utc(since, "since"))
        if limit is not None:
            query = query.limit(limit)
        with self.crm.read() as conn:
            return [Mention(**dict(r)) for r in conn.execute(query).mappings()]

    def sentiment_summary(self, since: dt.datetime | None = None,
                          as_of: dt.datetime | None = None) -> SentimentSummary:
        """Mentions per label posted in ``[since, as_of]`` (all before ``as_of`` without ``since``)."""
        m = mentions.c
        mood = sentiment.label_sql(m.sentiment, m.language, self.settings)

        def count(name):
            return func.coalesce(func.sum(case((mood == name, 1), else_=0)), 0)

        query = select(func.count().label("mentions"), count(sentiment.POSITIVE).label("positive"),
                       count(sentiment.NEUTRAL).label("neutral"),
                       count(sentiment.NEGATIVE).label("negative"),
                       count(sentiment.UNSCORED).label("unscored"),
                       func.avg(m.sentiment).label("average")).where(
            m.posted_at <= self._as_of(as_of))
        if since is not None:
            query = query.where(m.posted_at >= ensure_utc(since, "since"))
        with self.crm.read() as conn:
            row = conn.execute(query).mappings().one()
        average = None if row["average"] is None else round(float(row["average"]), 4)
        return SentimentSummary(int(row["mentions"]), int(row["positive"]), int(row["neutral"]),
                                int(row["negative"]), average, int(row["unscored"]))

    # -- engagement -------------------------------------------------------------------------------

    def engagement(self, as_of: dt.datetime | None = None, period: str | None = None,
                   periods: int = 1, customer: str | None = None
                   ) -> list[engagement_rules.Engagement]:
        """Engagement per customer, handle and period, for ``periods`` periods ending at ``as_of``."""
        settings = self.settings
        customer_id = self.crm.customers.get(customer).id if customer is not None else None
        with self.crm.read() as conn:
            return engagement_rules.engagement(conn, settings.engagement_weights,
                                               self._as_of(as_of),
                                               period or settings.engagement_period, periods,
                                               customer_id)

    # -- referrals ---------------------------------------------------------------------------------

    def referral_code(self, external_id: str) -> str:
        """The customer's referral code (created on first request)."""
        customer = self.crm.customers.get(external_id)
        if customer.erased_at is not None:
            raise ValidationError(f"customer {external_id!r} was erased")
        with self.crm.transaction() as tx:
            return referral_rules.code_for(tx.context("social"), customer.id)

    def referrer(self, code: str) -> str:
        """The external id of the customer holding referral ``code`` (NotFound: no one)."""
        with self.crm.read() as conn:
            return referral_rules.referrer_of(conn, code)["external_id"]

    def redeem_referral(self, code: str, referee_external_id: str,
                        may_name: Callable[[str], bool] | None = None
                        ) -> referral_rules.Referral:
        """A new customer redeems a code: linked to the referrer once, never a self-referral.
        A referee already referred is refused naming who referred them only if
        ``may_name(their external id)`` (by default always)."""
        referee = self.crm.customers.get(referee_external_id)
        with self.crm.transaction() as tx:
            return referral_rules.redeem(tx.context("social"), code, referee, may_name)

    def referrals(self, as_of: dt.datetime | None = None) -> list[dict[str, Any]]:
        """Referrals redeemed up to ``as_of`` with referrer, referee and whether converted by then."""
        as_of = self._as_of(as_of)
        r = referrals.c
        referrer = customers.alias("referrer")
        referee = customers.alias("referee")
        query = (select(r.id, referrer.c.external_id.label("referrer"),
                        referee.c.external_id.label("referee"), r.redeemed_at,
                        case((r.converted_at <= as_of, r.converted_at), else_=None)
                        .label("converted_at"))
                 .join(referrer, referrer.c.id == r.referrer_id)
                 .join(referee, referee.c.id == r.referee_id)
                 .where(r.redeemed_at <= as_of).order_by(r.redeemed_at, r.id))
        with self.crm.read() as conn:
            return [{**row, "converted": row["converted_at"] is not None}
                    for row in conn.execute(query).mappings()]

    def codes_issued(self) -> int:
        """How many referral codes exist."""
        with self.crm.read() as conn:
            return conn.execute(select(func.count()).select_from(referral_codes)).scalar_one()
