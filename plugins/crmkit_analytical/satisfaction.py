"""Satisfaction from survey payloads (NPS, CSAT, CES) and the voice of the customer (VOC tags).

Over the survey interactions (``survey_kinds``) in ``(as_of − window_days, as_of]``:

* NPS = % promoters (9–10) − % detractors (0–6) of the ``nps`` answers (0–10);
* CSAT = % of ``csat`` answers that are 4 or 5 (1–5 scale);
* CES = mean ``ces`` answer (1–7 scale).

Values are rounded half up (NPS and CSAT to 0.1, CES to 0.01).  Fewer than
``min_sample`` answers (default 30) flag the result ``insufficient``; it is
still shown.  VOC: the ``comment`` of surveys and the ``text`` of complaints
get every tag one of whose keywords they contain (case-insensitive), counted
per tag and month.  A Chinese keyword must be a whole word of the text as
jieba segments it ("退款" matches "我要退款"; "款" does not match "款式"), so
only the few texts containing a Chinese keyword are segmented, in Python;
every other count happens in SQL.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, case, false, func, not_, or_, select

from crmkit.plugin import detect_language
from crmkit.plugin import interactions as I
from crmkit.plugin import lowercase

from .results import Score, SurveyAnswer, VOCCount
from .surveys import SCALES
from .sql import json_number, json_text, month_label, month_number

if TYPE_CHECKING:
    from .settings import Settings


def _window(settings: Settings, as_of: dt.datetime, days: int | None):
    days = settings.satisfaction.window_days if days is None else days
    return and_(I.c.kind.in_(settings.survey_kinds), I.c.occurred_at <= as_of,
                I.c.occurred_at > as_of - dt.timedelta(days=days))


def _answer(key: str, low: int, high: int):
    value = json_number(I.c.payload, key)
    return case((and_(value >= low, value <= high), value))


def _counts(group_by=None):
    nps, csat, ces = _answer("nps", 0, 10), _answer("csat", 1, 5), _answer("ces", 1, 7)
    return [func.count(nps).label("nps_n"),
            func.sum(case((nps >= 9, 1), else_=0)).label("promoters"),
            func.sum(case((nps <= 6, 1), else_=0)).label("detractors"),
            func.count(csat).label("csat_n"),
            func.sum(case((csat >= 4, 1), else_=0)).label("satisfied"),
            func.count(ces).label("ces_n"),
            func.sum(ces).label("ces_sum")]


def _percent(part: int, whole: int) -> float | None:
    if not whole:
        return None
    return float((Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP))


def _scores(row, min_sample: int) -> dict[str, Score]:
    nps_n, promoters, detractors = int(row.nps_n), int(row.promoters or 0), int(row.detractors or 0)
    csat_n, satisfied = int(row.csat_n), int(row.satisfied or 0)
    ces_n = int(row.ces_n)
    nps_value = None
    if nps_n:
        nps_value = float((Decimal(promoters - detractors) * 100 / nps_n)
                          .quantize(Decimal("0.1"), ROUND_HALF_UP))
    ces_value = None
    if ces_n:
        ces_value = float((Decimal(repr(float(row.ces_sum))) / ces_n)
                          .quantize(Decimal("0.01"), ROUND_HALF_UP))
    return {
        "nps": Score("nps", nps_value, nps_n, nps_n < min_sample, min_sample,
                     {"promoters": promoters, "passives": nps_n - promoters - detractors,
                      "detractors": detractors}),
        "csat": Score("csat", _percent(satisfied, csat_n), csat_n, csat_n < min_sample, min_sample,
                      {"satisfied": satisfied}),
        "ces": Score("ces", ces_value, ces_n, ces_n < min_sample, min_sample),
    }


def scores(conn, settings: Settings, as_of: dt.datetime, days: int | None = None
           ) -> dict[str, Score]:
    """NPS, CSAT and CES over the window ending at ``as_of``."""
    row = conn.execute(select(*_counts()).where(_window(settings, as_of, days))).one()
    return _scores(row, settings.satisfaction.min_sample)


def scores_between(conn, settings: Settings, start: dt.datetime, end: dt.datetime
                   ) -> dict[str, Score]:
    """NPS, CSAT and CES of the answers in ``(start, end]`` (for KPIs)."""
    where = and_(I.c.kind.in_(settings.survey_kinds), I.c.occurred_at > start, I.c.occurred_at <= end)
    row = conn.execute(select(*_counts()).where(where)).one()
    return _scores(row, settings.satisfaction.min_sample)


def by_month(conn, settings: Settings, as_of: dt.datetime, days: int | None = None
             ) -> list[dict[str, Any]]:
    """NPS, CSAT and CES per UTC month over the window, oldest first."""
    month = month_number(I.c.occurred_at).label("month")
    rows = conn.execute(select(month, *_counts()).where(_window(settings, as_of, days))
                        .group_by(month).order_by(month))
    out = []
    for row in rows:
        s = _scores(row, settings.satisfaction.min_sample)
        out.append({"month": month_label(row.month), **{
            f"{k}{suffix}": v for k, score in s.items()
            for suffix, v in (("", score.value), ("_responses", score.responses),
                              ("_insufficient", score.insufficient))}})
    return out


def answers(conn, settings: Settings, customer_id: int, as_of: dt.datetime, limit: int
            ) -> list[SurveyAnswer]:
    """A customer's latest survey answers with a score on its scale, newest first."""
    scores = {key: _answer(key, low, high) for key, (low, high) in SCALES.items()}
    rows = conn.execute(
        select(I.c.occurred_at, *[score.label(key) for key, score in scores.items()])
        .where(I.c.customer_id == customer_id, I.c.kind.in_(settings.survey_kinds),
               I.c.occurred_at <= as_of, or_(*[s.is_not(None) for s in scores.values()]))
        .order_by(I.c.occurred_at.desc(), I.c.id.desc()).limit(limit))
    whole = (lambda value: None if value is None else int(value))
    return [SurveyAnswer(r.occurred_at, whole(r.nps), whole(r.csat), whole(r.ces)) for r in rows]


def voc(conn, settings: Settings, as_of: dt.datetime, since: dt.datetime | None = None
        ) -> list[VOCCount]:
    """Tagged comments and complaints per month and tag (tags alphabetical; zeros omitted).

    Tags are sorted by name: a JSON object's key order does not survive every
    database (PostgreSQL's JSONB reorders keys).
    """
    tags = {tag: settings.voc_tags[tag] for tag in sorted(settings.voc_tags)}
    if not tags:
        return []
    kinds = list(settings.survey_kinds) + list(settings.complaint_kinds)
    text = lowercase(func.coalesce(json_text(I.c.payload, "comment"), json_text(I.c.payload, "text")))
    month = month_number(I.c.occurred_at).label("month")
    split = {tag: _split_keywords(words) for tag, words in tags.items()}

    def contains_any(words):
        return or_(*[text.contains(k, autoescape=True) for k in words]) if words else false()

    # SQL counts a tag's texts that contain none of its Chinese keywords; texts that do are
    # segmented below and decided by their words (and the tag's other keywords).
    columns = [func.sum(case((and_(contains_any(other), not_(contains_any(chinese))), 1),
                             else_=0)).label(f"t{i}")
               for i, (other, chinese) in enumerate(split.values())]
    where = [I.c.kind.in_(kinds), I.c.occurred_at <= as_of]
    if since is not None:
        where.append(I.c.occurred_at > since)
    counts: dict[tuple[int, str], int] = {}
    for row in conn.execute(select(month, *columns).where(*where).group_by(month)):
        for i, tag in enumerate(tags):
            counts[(row.month, tag)] = int(getattr(row, f"t{i}") or 0)
    every_chinese = sorted({k for _, chinese in split.values() for k in chinese})
    if every_chinese:
        segment = _segmenter(tuple(every_chinese) + tuple(settings.voc_user_words))
        for row in conn.execute(select(month, text.label("text"))
                                .where(*where, contains_any(every_chinese))):
            words = set(segment(row.text))
            for tag, (other, chinese) in split.items():
                if any(k in row.text for k in chinese) and (
                        not words.isdisjoint(chinese) or any(k in row.text for k in other)):
                    counts[(row.month, tag)] = counts.get((row.month, tag), 0) + 1
    return [VOCCount(month_label(m), tag, n) for (m, tag), n in
            sorted(counts.items(), key=lambda item: (item[0][0], item[0][1])) if n]


def _split_keywords(words: list[str]) -> tuple[list[str], list[str]]:
    """A tag's keywords, lower-cased: (matched as substrings, Chinese ones matched as words)."""
    lowered = [w.lower() for w in words]
    chinese = [w for w in lowered if detect_language(w) == "zh"]
    return [w for w in lowered if w not in chinese], chinese


@functools.lru_cache(maxsize=8)
def _segmenter(words: tuple[str, ...]):
    """jieba's word splitter that keeps each of ``words`` (keywords, product names) whole."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    for word in words:
        tokenizer.add_word(word.lower())
    return tokenizer.lcut


