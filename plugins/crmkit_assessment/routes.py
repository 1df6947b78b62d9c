"""assessment's HTTP routes, mounted under ``/api/v1/assessment/``.

The questionnaire, taking an assessment (the body is an answers document,
checked against the same JSON Schema as ``crmkit assessment run --answers``),
the latest report, one stored assessment and the history.  Every handler
calls the public API (``call.api()``).
"""

from __future__ import annotations

from typing import Any

from crmkit.plugin import Endpoint, NotFound, jsonable, parse_timestamp

from .questionnaire import answers_schema

READ = "assessment.read"
WRITE = "assessment.write"

PERMISSIONS = {
    READ: "See the questionnaire, the assessment reports and their history.",
    WRITE: "Take (store) a capability assessment.",
}

TEXT = {"type": "string"}
INSTANT = {"type": "string", "format": "date-time"}
NUMBER = {"type": "number"}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


REPORT = {"type": "object", "required": ["id", "taken_at", "scores", "answers", "gaps"],
          "properties": {"id": {"type": "integer"}, "taken_at": INSTANT,
                         "note": {"type": ["string", "null"]}, "scores": {"type": "object"},
                         "answers": {"type": "object"}, "gaps": {"type": "array"},
                         "change": {"type": ["object", "null"]}}}


def questionnaire(call):
    return jsonable(call.api().questionnaire())


def assess(call):
    text = call.query.get("as_of")
    as_of = None if text is None else parse_timestamp(text, "as_of")
    return jsonable(call.api().assess(call.body, as_of))


def latest(call):
    return jsonable(call.api().report())


def one(call):
    text = call.path_params["assessment_id"]
    if not text.isdigit() or len(text) > 18:
        raise NotFound(f"no assessment {text!r}")
    return jsonable(call.api().report(int(text)))


def history(call):
    return jsonable(call.api().history())


def endpoints() -> list[Endpoint]:
    """assessment's endpoints (the ``crmkit_routes`` answer)."""
    answers = {k: v for k, v in answers_schema().items() if k != "$schema"}
    return [
        Endpoint("GET", "questionnaire", questionnaire, READ,
                 "Every questionnaire item in order, with the module addressing a gap in it.",
                 response_schema={"type": "array", "items": _object({
                     "part": TEXT, "key": TEXT, "wording": TEXT, "module": TEXT})}),
        Endpoint("POST", "assessments", assess, WRITE,
                 "Score an answers document, gather the evidence, store the assessment; "
                 "answers its report.",
                 body_schema=answers, query_schema=_object({"as_of": INSTANT}),
                 response_schema=REPORT, status=201),
        Endpoint("GET", "assessments", history, READ,
                 "Every assessment, oldest first, with the change in overall score.",
                 response_schema={"type": "array", "items": _object({
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
