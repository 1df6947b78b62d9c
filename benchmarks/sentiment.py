"""Sentiment benchmark: scoring mixed Chinese/English mentions through crmkit vs the analysers directly.

    python benchmarks/sentiment.py --count 100000

crmkit's side is ``crmkit.sentiment.score_texts`` with the social plugin
enabled (language detection, the analyser for each language, the score
checks); the baseline calls the same analysers (VADER; SnowNLP with its
question rule) directly in a loop on the same texts, already knowing each
text's language.  Also prints how often each language's analyser agrees with
the labelled test set.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _common import Timer, report  # noqa: E402

LABELLED = (Path(__file__).parent.parent / "tests" / "plugins" / "social" / "data"
            / "sentiment_labelled.tsv")
SUFFIXES = ["", " 😡", " 👍", "！", " #{n}", " ({n})", " …"]


def labelled() -> list[tuple[str, str, str]]:
    """``(language, label, text)`` of the hand-labelled messages."""
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            language, label, text = line.split("\t")
            rows.append((language, label, text))
    return rows


def mentions(count: int) -> list[tuple[str, str]]:
    """``(language, text)``: the labelled messages with varied endings, half Chinese, half English."""
    by_language: dict[str, list[str]] = {}
    for language, _, text in labelled():
        by_language.setdefault(language, []).append(text)
    out = []
    for n in range(count):
        language = ("zh", "en")[n % 2]
        texts = by_language[language]
        suffix = SUFFIXES[(n // 2) % len(SUFFIXES)].format(n=n)
        out.append((language, texts[(n // 2) % len(texts)] + suffix))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="mentions to score")
    args = parser.parse_args()

    from crmkit import CRM
    from crmkit.sentiment import score_texts
    from crmkit_social.sentiment import SnowNLPAnalyser, VaderAnalyser, label

    sample = mentions(args.count)
    texts = [text for _, text in sample]
    direct_analysers = {"zh": SnowNLPAnalyser().score, "en": VaderAnalyser().score}
    for language, analyse in direct_analysers.items():
        analyse([text for lang, text in sample[:10] if lang == language])  # load the models

    with tempfile.TemporaryDirectory() as tmp, \
            CRM.open(f"sqlite:///{tmp}/bench.db", create=True) as crm:
        crm.plugins.enable("social")
        score_texts(crm, texts[:10])  # load the models outside the timed runs
        with Timer() as direct:
            for language, text in sample:
                direct_analysers[language]([text])
        with Timer() as ours:
            results = score_texts(crm, texts)
        assert [r.language for r in results] == [language for language, _ in sample]
        report(f"sentiment of {args.count:,} mentions (half Chinese, half English)",
               direct.seconds, ours.seconds, args.count, goal=0.5)

        config = crm.plugin_config("social")
        rows = labelled()
        scored = score_texts(crm, [text for _, _, text in rows])
        agree: dict[str, list[bool]] = {}
        for (language, expected, _), result in zip(rows, scored):
            agree.setdefault(language, []).append(
                label(result.score, result.language, config) == expected)
        for language, hits in sorted(agree.items()):
            print(f"labelled set, {language}: {sum(hits)}/{len(hits)} agree "
                  f"({100 * sum(hits) / len(hits):.1f} %; goal >= 85 %)")


if __name__ == "__main__":
    main()
