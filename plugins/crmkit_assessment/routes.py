"""assessment's HTTP routes, mounted under ``/api/v1/assessment/``.

The questionnaire, taking an assessment (the body is an answers document,
checked against the same JSON Schema as ``crmkit assessment run --answers``),
the latest report, one stored assessment and the history.  Every handler
calls the public API (``call.api()``).
"""

from __future__ import annotations

from crmkit.plugin import (INSTANT, NUMBER, TEXT, Endpoint, closed_object, jsonable, record_id,
                           timestamp_or_none)

from .questionnaire import answers_schema

READ = "assessment.read"
WRITE = "assessment.write"

PERMISSIONS = {
    READ: "See the questionnaire, the assessment reports and their history.",
    WRITE: "Take (store) a capability assessment.",
}


REPORT = {"type": "object", "required": ["id", "taken_at", "scores", "band_evidence", "answers",
                                         "gaps", "gaps_by_class"],
          "properties": {"id": {"type": "integer"}, "taken_at": INSTANT,
                         "note": {"type": ["string", "null"]}, "scores": {"type": "object"},
                         "band_evidence": {"type": "object"},
                         "answers": {"type": "object"}, "gaps": {"type": "array"},
                         "gaps_by_class": {"type": "object"},
                         "change": {"type": ["object", "null"]}}}


def questionnaire(call):
    return jsonable(call.api().questionnaire())


def assess(call):
    as_of = timestamp_or_none(call.query.get("as_of"), "as_of")
    return jsonable(call.api().assess(call.body, as_of))


def latest(call):
    return jsonable(call.api().report())


def one(call):
    return jsonable(call.api().report(record_id(call.path_params["assessment_id"],
                                                "assessment")))


def history(call):
    return jsonable(call.api().history())


def endpoints() -> list[Endpoint]:
    """assessment's endpoints (the ``crmkit_routes`` answer)."""
    answers = {k: v for k, v in answers_schema().items() if k != "$schema"}
    return [
        Endpoint("GET", "questionnaire", questionnaire, READ,
                 "Every questionnaire item in order, with the class of a gap in it and the "
                 "module addressing it (null where software cannot).",
                 response_schema={"type": "array", "items": closed_object({
                     "part": TEXT, "key": TEXT, "wording": TEXT, "gap_class": TEXT,
                     "module": {"type": ["string", "null"]}})}),
        Endpoint("POST", "assessments", assess, WRITE,
                 "Score an answers document, gather the evidence, store the assessment; "
                 "answers its report.",
                 body_schema=answers, query_schema=closed_object({"as_of": INSTANT}),
                 response_schema=REPORT, status=201),
        Endpoint("GET", "assessments", history, READ,
                 "Every assessment, oldest first, with the change in overall score.",
                 response_schema={"type": "array", "items": closed_object({
                     "id": {"type": "integer"}, "taken_at": INSTANT, "actor": TEXT,
                     "indicators": NUMBER, "capabilities": NUMBER, "questions": NUMBER,
                     "overall": NUMBER, "band": TEXT,
                     "change": {"type": ["number", "null"]}})}),
        Endpoint("GET", "assessments/{assessment_id}", one, READ,
                 "One stored assessment's report.", response_schema=REPORT),
        Endpoint("GET", "report", latest, READ,
                 "The latest assessment's report: scores, gaps with the module addressing "
                 "each, and the change since the one before.",
                 response_schema=REPORT),
    ]
