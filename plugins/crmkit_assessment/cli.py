"""``crmkit assessment run|report|history|questions``."""

from __future__ import annotations

import click

from crmkit.plugin import (
    as_of_option, format_option, load_json_file, output, output_document, pass_state,
    resolve_as_of,
)


@click.group(name="assessment")
def group() -> None:
    """CRM capability assessment: questionnaire, scores, band, gaps, history."""


def ask() -> dict:
    """Ask every question on the terminal (ratings 1-5, yes/no)."""
    from .questionnaire import PART_TITLES, PARTS, items

    answers: dict = {}
    for part in PARTS:
        click.echo(PART_TITLES[part])
        answers[part] = {}
        for item in items(part):
            if part == "questions":
                reply = click.prompt(f"  {item.wording}", type=click.Choice(["y", "n", "yes", "no"],
                                                                           case_sensitive=False))
                answers[part][item.key] = reply.lower().startswith("y")
            else:
                answers[part][item.key] = click.prompt(f"  {item.wording}",
                                                       type=click.IntRange(1, 5))
    return answers


def show(report: dict, fmt: str) -> None:
    """Print an assessment report: the document for json, readable sections otherwise."""
    if fmt == "json":
        output_document(report, fmt)
        return
    s = report["scores"]
    click.echo(f"assessment {report['id']} taken {report['taken_at']:%Y-%m-%d}: overall "
               f"{s['overall']} ({s['band']})")
    click.echo(f"  indicators {s['indicators']['mean']} / 5 ({s['indicators']['percent']}%), "
               f"capabilities {s['capabilities']['mean']} / 5 ({s['capabilities']['percent']}%), "
               f"questions {s['questions']['yes']} / {s['questions']['of']} yes "
               f"({s['questions']['percent']}%)")
    evidence = report["band_evidence"]
    click.echo(f"  {evidence['band']} firms report a sales return of about "
               f"{evidence['sales_return_percent']}% from CRM")
    following = evidence["next"]
    if following:
        click.echo(f"  next band {following['band']} (about {following['sales_return_percent']}%)"
                   f" needs an overall of {following['overall_at_least']}: "
                   f"{following['points_short']} points short; raise "
                   + ", ".join(r["item"] for r in following["raise"]))
    change = report["change"]
    if change:
        click.echo(f"  change since {change['since']:%Y-%m-%d}: overall {change['overall']:+}, "
                   f"band {change['band']}")
    rows = [dict(r, part=part) for part, items in report["answers"].items() for r in items]
    output(rows, ["part", "item", "answer", "evidence", "evidence_agrees"], fmt)
    click.echo("gaps: " + ", ".join(f"{count} {name}"
                                    for name, count in report["gaps_by_class"].items()))
    output(report["gaps"], ["part", "item", "answer", "gap_class", "module", "module_enabled"],
           fmt)


@group.command()
@click.option("--answers", "answers_file", default=None, metavar="FILE",
              help="Answers as JSON (crmkit assessment questions lists the keys); "
                   "else asked interactively.")
@click.option("--note", default=None, help="A note stored with the assessment.")
@as_of_option
@format_option
@pass_state
def run(state, answers_file, note, as_of, fmt) -> None:
    """Take the assessment and store it with its date.

    Without --answers the questions are asked on the terminal.

    \b
    Example:
      crmkit assessment run --answers answers.json --note "after the Q4 rollout" \\
        --as-of 2026-12-01
    """
    from .api import validate_answers

    if answers_file is not None:
        answers = validate_answers(load_json_file(answers_file, "answers"),
                                   f"answers {answers_file}")
    else:
        answers = ask()
    with state.open() as crm:
        # no --as-of: None, so the API takes its own now and what is known only as it is
        # now (the plugins enabled) counts as evidence
        report = crm.plugin("assessment").assess(
            answers, None if as_of is None else resolve_as_of(crm, as_of), note)
    show(report, fmt)


@group.command()
@click.argument("assessment_id", required=False, type=int)
@format_option
@pass_state
def report(state, assessment_id, fmt) -> None:
    """Show an assessment, its gaps and the change since the last.

    ASSESSMENT_ID defaults to the latest assessment.

    \b
    Example:
      crmkit assessment report 3 --format json
    """
    with state.open() as crm:
        document = crm.plugin("assessment").report(assessment_id)
    show(document, fmt)


@group.command()
@format_option
@pass_state
def history(state, fmt) -> None:
    """Every assessment with its scores and overall change.

    The change is in the overall score since the assessment before.

    \b
    Example:
      crmkit assessment history --format csv
    """
    with state.open() as crm:
        rows = crm.plugin("assessment").history()
    output(rows, ["id", "taken_at", "indicators", "capabilities", "questions", "overall", "band",
                  "change"], fmt)


@group.command()
@format_option
@pass_state
def questions(state, fmt) -> None:
    """The questionnaire: each item's key, wording and module.

    The keys are those an --answers file uses.

    \b
    Example:
      crmkit assessment questions --format json
    """
    with state.open() as crm:
        modules = crm.plugin("assessment").modules()
    from .questionnaire import ITEMS

    output([{"part": i.part, "key": i.key, "wording": i.wording, "gap_class": i.gap_class,
             "module": modules[i.key]} for i in ITEMS],
           ["part", "key", "wording", "gap_class", "module"], fmt)
