"""assessment's public API: ``crm.plugin("assessment")``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select

from crmkit.plugin import PluginAPI, ConfigError, NotFound, ValidationError

from . import evidence, questionnaire, scoring
from .settings import Settings
from .tables import runs


def validate_answers(document: Any, where: str = "answers") -> dict[str, Any]:
    """Check an answers document against the JSON Schema; errors name the JSON pointer."""
    from crmkit.plugin import validate_config

    try:
        return validate_config(questionnaire.answers_schema(), document, where)
    except ConfigError as exc:
        raise ValidationError(str(exc)) from None


class AssessmentAPI(PluginAPI):
    """The CRM capability assessment: take it, keep it, compare it."""

    plugin = "assessment"
    settings_class = Settings

    def questionnaire(self) -> list[questionnaire.Item]:
        """Every item, in order."""
        return list(questionnaire.ITEMS)

    def modules(self) -> dict[str, str | None]:
        """Item key → the module that addresses a gap in it, None where software cannot
        (configuration overrides applied)."""
        return {i.key: self.settings.gap_modules.get(i.key, i.module) for i in questionnaire.ITEMS}

    def assess(self, answers: dict[str, Any], as_of: dt.datetime | None = None,
               note: str | None = None, save: bool = True) -> dict[str, Any]:
        """Score answers, gather the evidence at ``as_of`` (default now), store the
        assessment; return its report."""
        answers = validate_answers(answers)
        note = note if note is not None else answers.pop("note", None)
        answers.pop("note", None)
        now = self.crm.clock.now()
        as_of = now if as_of is None else as_of
        scores = scoring.score(answers, self.settings)
        found = evidence.gather(self.crm, self.settings, as_of, past=as_of < now)
        if not save:
            return self._report(None, as_of, answers, scores, found, note, None)
        with self.crm.transaction() as tx:
            run_id = tx.conn.execute(insert(runs).values(
                taken_at=as_of, recorded_at=tx.now(), actor=tx.actor, answers=answers,
                scores=scores, band=scores["band"], evidence=found, note=note,
            ).returning(runs.c.id)).scalar_one()
            ctx = tx.context("assessment")
            ctx.audit("assess", "assessment_runs", str(run_id),
                      {"overall": scores["overall"], "band": scores["band"]})
            ctx.emit("assessment.completed", None, {"assessment_id": run_id,
                                                    "overall": scores["overall"],
                                                    "band": scores["band"]})
        return self.report(run_id)

    def _stored(self, conn, run_id: int | None):
        query = select(runs).order_by(runs.c.taken_at.desc(), runs.c.id.desc()).limit(1)
        if run_id is not None:
            query = select(runs).where(runs.c.id == run_id)
        return conn.execute(query).mappings().first()

    def report(self, run_id: int | None = None) -> dict[str, Any]:
        """A stored assessment (the latest by default) with gaps and the change since the one before."""
        with self.crm.read() as conn:
            row = self._stored(conn, run_id)
            if row is None:
                raise NotFound(f"no assessment {run_id}" if run_id is not None else
                               "no assessment yet: `crmkit assessment run`")
            previous = conn.execute(
                select(runs).where((runs.c.taken_at < row["taken_at"])
                                   | ((runs.c.taken_at == row["taken_at"]) & (runs.c.id < row["id"])))
                .order_by(runs.c.taken_at.desc(), runs.c.id.desc()).limit(1)).mappings().first()
        return self._report(row["id"], row["taken_at"], row["answers"], row["scores"],
                            row["evidence"], row["note"], previous)

    def _report(self, run_id, taken_at, answers, scores, found, note, previous) -> dict[str, Any]:
        enabled = set(self.crm.enabled_plugins())
        installed = set(self.crm.installed)
        modules = self.modules()
        parts = {}
        for part in questionnaire.PARTS:
            rows = []
            for item in questionnaire.items(part):
                answer = answers[part][item.key]
                finding = found.get(item.key)
                rows.append({"item": item.key, "wording": item.wording, "answer": answer,
                             "evidence": finding["text"] if finding else None,
                             "evidence_agrees": _agrees(part, answer, finding)})
            parts[part] = rows
        gaps = scoring.gaps(answers, self.settings.gap_max_rating, modules)
        for gap in gaps:
            gap["module_enabled"] = gap["module"] is not None and gap["module"] in enabled
            gap["module_installed"] = gap["module"] is not None and gap["module"] in installed
        return {"id": run_id, "taken_at": taken_at, "note": note, "scores": scores,
                "band_evidence": scoring.band_evidence(answers, self.settings),
                "answers": parts, "gaps": gaps,
                "gaps_by_class": {name: sum(g["gap_class"] == name for g in gaps)
                                  for name in questionnaire.GAP_CLASSES},
                "change": _change(scores, previous)}

    def history(self) -> list[dict[str, Any]]:
        """Every assessment, oldest first, each with the change in overall score."""
        with self.crm.read() as conn:
            rows = conn.execute(select(runs).order_by(runs.c.taken_at, runs.c.id)).mappings().all()
        out = []
        previous = None
        for row in rows:
            s = row["scores"]
            out.append({"id": row["id"], "taken_at": row["taken_at"], "actor": row["actor"],
                        "indicators": s["indicators"]["percent"],
                        "capabilities": s["capabilities"]["percent"],
                        "questions": s["questions"]["percent"], "overall": s["overall"],
                        "band": s["band"],
                        "change": None if previous is None
                        else round(s["overall"] - previous["scores"]["overall"], 1)})
            previous = row
        return out


def _agrees(part: str, answer: Any, finding: dict[str, Any] | None) -> bool | None:
    """Whether the evidence agrees with the answer (None: no evidence, or it is neutral)."""
    if finding is None or finding["supports"] is None:
        return None
    positive = bool(answer) if part == "questions" else answer >= 3
    if part != "questions" and answer == 3:
        return None
    return positive == finding["supports"]


def _change(scores: dict[str, Any], previous) -> dict[str, Any] | None:
    """Differences from the previous assessment (None for the first)."""
    if previous is None:
        return None
    before = previous["scores"]
    return {"since": previous["taken_at"], "previous_id": previous["id"],
            "indicators": round(scores["indicators"]["percent"] - before["indicators"]["percent"], 1),
            "capabilities": round(scores["capabilities"]["percent"]
                                  - before["capabilities"]["percent"], 1),
            "questions": round(scores["questions"]["percent"] - before["questions"]["percent"], 1),
            "overall": round(scores["overall"] - before["overall"], 1),
            "band": before["band"] if before["band"] == scores["band"]
            else f"{before['band']} -> {scores['band']}"}
