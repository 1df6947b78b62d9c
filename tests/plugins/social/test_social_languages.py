"""Sentiment by language: the labelled set, Chinese cases, unscored languages, the analyser hook."""

from __future__ import annotations

from pathlib import Path

import pytest

import crmkit
from crmkit.errors import ConfigError, PluginError
from crmkit.sentiment import detect_language, score_texts
from crmkit_social import sentiment

LABELLED = Path(__file__).parent / "data" / "sentiment_labelled.tsv"


def labelled_set() -> list[tuple[str, str, str]]:
    """``(language, label, text)`` rows of the hand-labelled messages."""
    rows = []
    for line in LABELLED.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            language, label, text = line.split("\t")
            rows.append((language, label, text))
    return rows


@pytest.fixture
def social(crm):
    crm.plugins.enable("social")
    crm.customers.add("C1", "Alice")
    crm.plugin("social").link_handle("C1", "wechat", "Alice_Wang")
    return crm


@pytest.mark.parametrize("text, language", [
    ("服务太差了，再也不来了", "zh"),
    ("The service was terrible", "en"),
    ("Nike 的鞋子质量太差了 😡", "zh"),  # Chinese with an English brand and an emoji
    ("I bought 小米 phone, love it!!! 👍", "en"),
    ("Обслуживание ужасное", "ru"),
    ("الخدمة سيئة جدا", "ar"),
    ("サービスが最悪です", "ja"),
    ("👍👍 !!! 123", None),
    ("", None),
])
def test_language_is_the_script_of_most_letters(text, language):
    assert detect_language(text) == language


def test_the_labelled_set_agrees_with_the_analysers_on_85_percent_of_each_language(crm):
    crm.plugins.enable("social")
    settings = crm.plugin("social").settings
    rows = labelled_set()
    results = score_texts(crm, [text for _, _, text in rows])
    agree: dict[str, list[bool]] = {}
    for (language, label, _), result in zip(rows, results):
        assert result.language == language
        agree.setdefault(language, []).append(
            sentiment.label(result.score, result.language, settings) == label)
    assert {language: len(hits) for language, hits in agree.items()} == {"zh": 64, "en": 30}
    for language, hits in agree.items():
        assert sum(hits) / len(hits) >= 0.85, language


def test_a_negative_chinese_mention_opens_a_case_and_a_question_does_not(social):
    social.plugins.enable("operational")
    api = social.plugin("social")
    result = api.import_mentions([
        {"platform": "wechat", "post_id": "1", "handle": "alice_wang",
         "text": "服务太差了，再也不来了", "posted_at": "2024-12-31"},
        {"platform": "wechat", "post_id": "2", "handle": "alice_wang",
         "text": "请问周末营业吗？", "posted_at": "2024-12-31"}])
    assert result.alerts == 1
    by_post = {m.post_id: m for m in api.mentions()}
    assert (by_post["1"].language, by_post["1"].label) == ("zh", "negative")
    assert by_post["1"].sentiment < -0.5
    assert (by_post["2"].language, by_post["2"].label, by_post["2"].sentiment) == (
        "zh", "neutral", 0.0)
    [event] = social.events.list(type="social.negative_mention")
    assert event.payload["mention_id"] == by_post["1"].id
    opened = social.events.list(type="case.opened")
    assert [e.customer_id for e in opened] == [social.customers.get("C1").id]


def test_a_language_without_an_analyser_is_stored_unscored_with_the_reason(social):
    api = social.plugin("social")
    result = api.import_mentions([
        {"platform": "wechat", "post_id": "ru", "handle": "alice_wang",
         "text": "Ужасный сервис, никогда больше не приду", "posted_at": "2024-12-31"},
        {"platform": "wechat", "post_id": "ar", "handle": "alice_wang",
         "text": "الخدمة سيئة جدا", "posted_at": "2024-12-31"},
        {"platform": "wechat", "post_id": "emoji", "handle": "alice_wang",
         "text": "😡😡😡", "posted_at": "2024-12-31"}])
    assert result.alerts == 0
    by_post = {m.post_id: m for m in api.mentions()}
    assert [(by_post[p].sentiment, by_post[p].language, by_post[p].label, by_post[p].unscored_reason)
            for p in ("ru", "ar", "emoji")] == [
        (None, "ru", "unscored", "no sentiment analyser for language 'ru' (analysers handle: en, zh)"),
        (None, "ar", "unscored", "no sentiment analyser for language 'ar' (analysers handle: en, zh)"),
        (None, None, "unscored", "no letters to tell the language from")]
    summary = api.sentiment_summary()
    assert (summary.mentions, summary.unscored, summary.neutral, summary.average) == (3, 3, 0, None)
    assert sorted(m.post_id for m in api.mentions(label="unscored")) == ["ar", "emoji", "ru"]
    assert api.mentions(label="neutral") == []


def test_mentions_cli_shows_the_language_and_sentiment_shows_the_reason(social, run_cli):
    import json

    social.plugin("social").import_mentions([
        {"platform": "wechat", "post_id": "1", "handle": "alice_wang",
         "text": "快递很快，包装也很好", "posted_at": "2024-12-31"}])
    code, out, _ = run_cli("social", "mentions", "--format", "json")
    [row] = json.loads(out)
    assert (row["language"], row["label"], row["unscored_reason"]) == ("zh", "positive", None)
    code, out, _ = run_cli("social", "sentiment", "Обслуживание ужасное", "--format", "json")
    assert json.loads(out) == {"score": None, "label": "unscored", "language": "ru",
                               "analyser": None, "unscored_reason":
                               "no sentiment analyser for language 'ru' (analysers handle: en, zh)"}


def test_chinese_thresholds_are_configured_per_language(social):
    api = social.plugin("social")
    value, label = api.score("快递很快，包装也很好")
    assert label == "positive"
    social.plugins.configure("social", {"language_thresholds": {
        "zh": {"positive_threshold": 0.99, "negative_threshold": -0.99, "case_threshold": -0.99}}})
    assert api.score("快递很快，包装也很好") == (value, "neutral")
    assert api.score("I love this!") == (0.6696, "positive")  # English keeps the top-level ones
    with pytest.raises(ConfigError, match=r"^/language_thresholds/zh/case_threshold: -0.1 must "
                                          r"not exceed negative_threshold \(-0.2\)"):
        social.plugins.configure("social", {"language_thresholds": {
            "zh": {"positive_threshold": 0.2, "negative_threshold": -0.2,
                   "case_threshold": -0.1}}})


class Shouting:
    """A test analyser for Russian that misbehaves on demand."""

    name = "shouting"
    languages = ("ru",)

    def __init__(self, scores):
        self.scores = scores

    def score(self, texts):
        if self.scores == "boom":
            raise RuntimeError("model file missing")
        return self.scores[:len(texts)] if self.scores != "short" else []


def analyser_plugin(analyser):
    import types

    module = types.ModuleType("russian")
    module.PLUGIN = crmkit.PluginInfo(name="russian", description="Russian sentiment")
    module.crmkit_sentiment_analysers = crmkit.hookimpl(lambda: [analyser])
    return module


def test_a_plugin_adds_an_analyser_for_another_language(crm_url, clock):
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"russian": analyser_plugin(Shouting([-0.75]))}) as crm:
        crm.plugins.enable("social")
        api = crm.plugin("social")
        post = {"platform": "vk", "post_id": "1", "handle": "ivan", "text": "Ужасный сервис",
                "posted_at": "2024-12-30"}
        api.import_mentions([post])
        assert api.mentions()[0].label == "unscored"
        crm.plugins.enable("russian")
        assert api.import_mentions([post]).updated == 1  # re-import scores the unscored mention
        [mention] = api.mentions()
        assert (mention.sentiment, mention.language, mention.label, mention.unscored_reason) == (
            -0.75, "ru", "negative", None)
        [ru, zh] = score_texts(crm, ["Ужасный сервис", "服务太差了"])
        assert (ru.score, ru.language, ru.analyser) == (-0.75, "ru", "shouting")
        assert (zh.language, zh.analyser) == ("zh", "snownlp")


@pytest.mark.parametrize("scores, message", [
    ([1.5], "sentiment analyser 'shouting' returned 1.5; scores must be numbers from -1 to 1"),
    ("short", "sentiment analyser 'shouting' returned 0 scores for 1 texts"),
    ("boom", "sentiment analyser 'shouting' failed: RuntimeError: model file missing"),
])
def test_a_misbehaving_analyser_is_one_plugin_error(crm_url, clock, scores, message):
    with crmkit.CRM.open(crm_url, clock=clock, create=True,
                         extra_plugins={"russian": analyser_plugin(Shouting(scores))}) as crm:
        crm.plugins.enable("russian")
        with pytest.raises(PluginError) as caught:
            score_texts(crm, ["Ужасный сервис"])
        assert str(caught.value) == message
