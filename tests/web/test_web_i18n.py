"""The web app's languages: English and Simplified Chinese, chosen per member or from the
browser's ``Accept-Language``; catalogues complete; numbers, money and dates per locale.

The page tests run against a real ``crmkit serve`` (``served``) on SQLite and PostgreSQL;
the browser test is test_browser_i18n.py.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jinja2
import pytest

from crmkit import CRM
from crmkit.devtools import i18n as catalogues
from crmkit.errors import ValidationError
from crmkit.i18n import (LOCALES, accepted, current_locale, gettext, negotiate, ngettext,
                         translating, translations)
from crmkit.services.audit import AuditLog
from crmkit.web.formatting import FILTERS
from crmkit.web.signin import CSRF_REFUSED
from test_web_pages import add_member, csrf, sign_in

ROOT = Path(__file__).resolve().parents[2]
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-GB,en;q=0.9"}


@pytest.fixture
def shop(served):
    """A served CRM with loyalty enabled, customer C1 with a purchase, agent ann."""
    server = served(plugins=["loyalty"])
    with server.open() as crm:
        crm.customers.add("C1", "Lin Wei", email="lin@example.com")
        crm.interactions.record("C1", dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc),
                                kind="purchase", amount="12.50")
    add_member(server, "ann", "agent")
    return server


def chinese_client(server):
    client = server.client()
    client.headers.update(ZH)
    return client


def member_locale(server, handle: str) -> str | None:
    with server.open() as crm:
        return crm.staff.get(handle).locale


def test_accept_language_zh_cn_shows_chinese_pages_cards_and_dates(shop):
    login = chinese_client(shop).get("/login")
    assert '<html lang="zh-Hans">' in login.text and "<h1>登录</h1>" in login.text
    assert '<label for="username">员工账号</label>' in login.text
    client, _ = sign_in(shop, "ann")
    client.headers.update(ZH)
    search = client.get("/customers", params={"q": "Lin"})
    assert '<html lang="zh-Hans">' in search.text
    assert '<label for="q">按名称、电子邮件、电话、标签或外部编号搜索</label>' in search.text
    assert "<caption>1 位客户与“Lin”匹配</caption>" in search.text
    assert "当前用户：<strong data-who>ann</strong>（agent）" in search.text
    page = client.get("/customers/C1")
    assert '<h2 id="profile-title">基本资料</h2>' in page.text
    # The loyalty plugin's card, translated by its own catalogue (plugin part "locale").
    assert '<h2 id="card-loyalty">忠诚度</h2>' in page.text
    assert "<dt>会员等级</dt><dd>bronze</dd><dt>积分余额</dt><dd>12 积分</dd>" in page.text
    # The timeline's instant, formatted for the locale in the CRM's time zone (UTC).
    assert '<time datetime="2025-01-01T12:00:00+00:00">2025年1月1日 12:00</time>' in page.text
    missing = client.get("/customers/NOPE")
    assert missing.status_code == 404 and "<h1>未找到</h1>" in missing.text
    empty = client.post("/customers/C1/notes", data={"csrf_token": csrf(page), "note": " "})
    assert empty.status_code == 422 and "<h1>出现问题</h1>" in empty.text
    assert "备注为空：请填写备注内容" in empty.text
    assert '<input type="hidden" name="next" value="">' in empty.text  # not back to a POST
    assert '<input type="hidden" name="next" value="/customers/C1?kind=purchase">' in client.get(
        "/customers/C1", params={"kind": "purchase"}).text

    client.headers.update({"Accept-Language": "zh-TW"})  # Traditional Chinese is not offered
    english = client.get("/customers/C1")
    assert '<html lang="en">' in english.text and '<h2 id="card-loyalty">Loyalty</h2>' in english.text
    assert "<dt>Tier</dt><dd>bronze</dd><dt>Balance</dt><dd>12 points</dd>" in english.text
    assert '<time datetime="2025-01-01T12:00:00+00:00">Jan 1, 2025, 12:00\u202fPM</time>' in english.text


def test_the_member_s_choice_beats_the_header_and_the_switcher_needs_csrf(shop):
    client, _ = sign_in(shop, "ann")
    client.headers.update(EN)
    page = client.get("/customers")
    assert '<select id="language" name="locale">' in page.text
    assert '<option value="" selected>Browser language</option>' in page.text

    forged = client.post("/settings/language", data={"locale": "zh-Hans", "next": "/customers"})
    assert forged.status_code == 403 and "nothing was changed" in forged.text
    other = client.post("/settings/language",
                        data={"csrf_token": "forged", "locale": "zh-Hans"})
    assert other.status_code == 403 and CSRF_REFUSED.split(":")[0] in other.text
    assert member_locale(shop, "ann") is None

    bad = client.post("/settings/language", data={"csrf_token": csrf(page), "locale": "fr"})
    assert bad.status_code == 422
    assert "language &#39;fr&#39; of &#39;ann&#39;: not available (available: en, zh-Hans)" in bad.text
    assert member_locale(shop, "ann") is None

    moved = client.post("/settings/language", data={"csrf_token": csrf(page),
                                                    "locale": "zh-Hans", "next": "/customers/C1"})
    assert (moved.status_code, moved.headers["location"]) == (303, "/customers/C1")
    assert member_locale(shop, "ann") == "zh-Hans"
    chinese = client.get("/customers/C1")  # the header still asks for English
    assert '<html lang="zh-Hans">' in chinese.text and "<h2 id=\"timeline-title\">时间线</h2>" in chinese.text
    assert '<option value="zh-Hans" lang="zh-Hans" selected>简体中文</option>' in chinese.text

    client.headers.update(ZH)
    client.post("/settings/language", data={"csrf_token": csrf(page), "locale": "en",
                                            "next": "https://evil.example/"})
    english = client.get("/customers")
    assert '<html lang="en">' in english.text and "<h1>Customers</h1>" in english.text
    back = client.post("/settings/language", data={"csrf_token": csrf(page), "locale": ""})
    assert back.headers["location"] == "/customers"  # never to another site
    assert member_locale(shop, "ann") is None
    assert '<html lang="zh-Hans">' in client.get("/customers").text  # the browser decides
    with shop.open() as crm:
        changes = [(entry.actor, entry.command, entry.changes["locale"])
                   for entry in AuditLog(crm).list(table="staff") if "locale" in entry.changes]
    assert changes[::-1] == [("ann", "web POST /settings/language", [None, "zh-Hans"]),
                             ("ann", "web POST /settings/language", ["zh-Hans", "en"]),
                             ("ann", "web POST /settings/language", ["en", None])]


def test_a_signed_out_page_in_chinese_still_refuses_a_post_without_csrf(shop):
    answer = chinese_client(shop).post("/settings/language", data={"locale": "zh-Hans"})
    assert answer.status_code == 403 and '<html lang="zh-Hans">' in answer.text
    assert "<h1>无权操作</h1>" in answer.text
    assert "已拒绝：此表单的安全令牌缺失或已过期（请刷新页面后重新提交表单）；未做任何更改" in answer.text


@pytest.mark.parametrize("header, chosen", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-Hans"), ("zh", "zh-Hans"), ("zh-SG", "zh-Hans"),
    ("zh-Hans-HK", "zh-Hans"), ("zh-TW", "en"), ("zh-Hant", "en"), ("zh-TW, zh;q=0.5", "zh-Hans"),
    ("fr, zh;q=0.2", "zh-Hans"), ("en;q=0.5, zh-CN;q=0.9", "zh-Hans"), ("zh-CN;q=0, en", "en"),
    ("de-DE", "en"), ("", "en"), (None, "en"), ("*", "en"), ("zh;q=x, !!", "en"),
])
def test_accept_language_is_negotiated_among_the_offered_languages(header, chosen):
    assert negotiate(None, header) == chosen


def test_a_preference_wins_unless_it_is_not_offered_and_accepted_orders_by_quality():
    assert negotiate("en", "zh-CN") == "en"
    assert negotiate("zh-Hans", "en") == "zh-Hans"
    assert negotiate("fr", "zh-CN") == "zh-Hans"
    assert accepted("en;q=0.5, zh-CN, fr;q=0.7, de;q=0") == ["zh-CN", "fr", "en"]


def test_a_language_that_is_not_offered_is_refused_and_nothing_changes(crm):
    crm.staff.add("bo", "Bo", "web")
    with pytest.raises(ValidationError, match=r"language 'zh-CN' of 'bo': not available "
                                              r"\(available: en, zh-Hans\)"):
        crm.staff.set_locale("bo", "zh-CN")
    assert crm.staff.get("bo").locale is None
    assert crm.staff.set_locale("bo", "zh-Hans").locale == "zh-Hans"


FORMATS = ("{{ n|number }}|{{ n|number(2) }}|{{ 7|number }}|{{ m|money('EUR') }}|"
           "{{ m|money('CNY') }}|{{ at|datetime }}|{{ at|date }}|{{ day|date }}|{{ none|number }}")


@pytest.mark.parametrize("locale, zone, shown", [
    ("en", "UTC", "1,234,567.891|1,234,567.89|7|€1,234.50|CN¥1,234.50|"
                  "Mar 2, 2026, 10:05\u202fPM|Mar 2, 2026|Mar 2, 2026|"),
    ("en", "Asia/Shanghai", "1,234,567.891|1,234,567.89|7|€1,234.50|CN¥1,234.50|"
                            "Mar 3, 2026, 6:05\u202fAM|Mar 3, 2026|Mar 2, 2026|"),
    ("zh-Hans", "Asia/Shanghai", "1,234,567.891|1,234,567.89|7|€1,234.50|¥1,234.50|"
                                 "2026年3月3日 06:05|2026年3月3日|2026年3月2日|"),
    (None, None, "1,234,567.891|1,234,567.89|7|€1,234.50|CN¥1,234.50|"
                 "Mar 2, 2026, 10:05\u202fPM|Mar 2, 2026|Mar 2, 2026|"),
])
def test_numbers_money_and_instants_are_formatted_for_the_locale(locale, zone, shown):
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined)
    environment.filters.update(FILTERS)
    values = {"n": 1234567.891, "m": "1234.5", "at": "2026-03-02T22:05:00+00:00",
              "day": "2026-03-02", "none": None}
    if locale is not None:
        values |= {"locale": locale, "timezone": zone}
    assert environment.from_string(FORMATS).render(values) == shown


def test_the_python_helpers_translate_into_the_current_language_only(crm):
    assert gettext("Loyalty") == "Loyalty" and current_locale() == "en"
    crm.plugins.enable("loyalty")
    with translating(crm, "zh-Hans"):
        assert (gettext("Loyalty"), current_locale()) == ("忠诚度", "zh-Hans")
        assert ngettext("{count} point", "{count} points", 1).format(count=1) == "1 积分"
        assert gettext("a text nobody translated") == "a text nobody translated"
    assert gettext("Loyalty") == "Loyalty"
    assert ngettext("{count} point", "{count} points", 1).format(count=1) == "1 point"
    crm.plugins.disable("loyalty")
    with translating(crm, "zh-Hans"):  # a disabled plugin's catalogue is not merged
        assert gettext("Loyalty") == "Loyalty" and gettext("Customers") == "客户"


def test_the_core_s_translation_wins_over_a_plugin_s_and_a_mo_file_is_read(tmp_path):
    from babel.messages.catalog import Catalog
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import write_po

    plugin = tmp_path / "locale"
    catalogue = Catalog(locale="zh_Hans")
    catalogue.add("Customers", "顾客们")   # the core says 客户
    catalogue.add("Vendor text", "供应商文本")
    path = plugin / "zh_Hans" / "LC_MESSAGES" / "messages.mo"
    path.parent.mkdir(parents=True)
    with path.open("wb") as stream:
        write_mo(stream, catalogue)
    other = tmp_path / "other"
    unfinished = Catalog(locale="zh_Hans")
    unfinished.add(("{n} visit", "{n} visits"), ("",))  # left untranslated: English stays
    unfinished.add("Guessed text", "猜测的译文", flags=["fuzzy"])
    path = other / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True)
    with path.open("wb") as stream:
        write_po(stream, unfinished)
    merged = translations("zh-Hans", (catalogues.CORE / "web" / "locale", plugin, other))
    assert merged.gettext("Customers") == "客户"
    assert merged.gettext("Vendor text") == "供应商文本"
    assert merged.ngettext("{n} visit", "{n} visits", 2) == "{n} visits"
    assert merged.gettext("Guessed text") == "Guessed text"


def plugin_folders() -> list[Path]:
    """The built-in plugins with a ``locale`` part, and the core."""
    folders = [catalogues.CORE]
    for init in sorted((ROOT / "plugins").glob("crmkit_*/__init__.py")):
        if re.search(r'parts=\([^)]*"locale"', init.read_text(encoding="utf-8")):
            folders.append(init.parent)
    return folders


def test_every_marked_text_of_the_core_and_the_built_in_plugins_is_translated():
    folders = plugin_folders()
    assert {f.name for f in folders} == {"crmkit", "crmkit_analytical", "crmkit_campaigns",
                                         "crmkit_catalogue",
                                         "crmkit_collaborative",
                                         "crmkit_idic", "crmkit_loyalty", "crmkit_operational",
                                         "crmkit_social", "crmkit_valuechain"}
    problems = [problem for folder in folders for problem in catalogues.problems(folder)]
    assert problems == [], ("texts without a Chinese translation (`python -m "
                            "crmkit.devtools.i18n update FOLDER`, then translate them):\n"
                            + "\n".join(problems))


def test_the_check_finds_a_new_template_text_and_a_changed_placeholder(tmp_path):
    package = tmp_path / "crmkit_vendor"
    (package / "templates").mkdir(parents=True)
    (package / "card.py").write_text('from crmkit.plugin import gettext as _\n'
                                     'TITLE = _("Visits: {count}")\n', encoding="utf-8")
    (package / "templates" / "vendor.html").write_text('<h1>{{ _("Vendor page") }}</h1>\n',
                                                       encoding="utf-8")
    assert catalogues.problems(package) == [f"{package}/locale/zh_Hans/LC_MESSAGES/messages.po: "
                                            "missing (run `python -m crmkit.devtools.i18n update "
                                            f"{package}`)"]
    catalogues.update(package)
    po = package / "locale" / "zh_Hans" / "LC_MESSAGES" / "messages.po"
    assert catalogues.problems(package) == [f"{po}: not translated 'Vendor page'",
                                            f"{po}: not translated 'Visits: {{count}}'"]
    text = po.read_text(encoding="utf-8")
    text = text.replace('msgid "Vendor page"\nmsgstr ""', 'msgid "Vendor page"\nmsgstr "供应商页面"')
    text = text.replace('msgid "Visits: {count}"\nmsgstr ""', 'msgid "Visits: {count}"\nmsgstr "到访：{n}"')
    po.write_text(text, encoding="utf-8")
    assert catalogues.problems(package) == [f"{po}: placeholders differ in 'Visits: {{count}}' "
                                            "(the original has ['{count}'])"]
    assert catalogues.main(["check", str(package)]) == 1
    po.write_text(text.replace("{n}", "{count}"), encoding="utf-8")
    assert catalogues.main(["check", str(package)]) == 0
    (package / "templates" / "vendor.html").write_text("<h1>{{ _('Vendor') }}</h1>\n")
    catalogues.update(package)  # the old text leaves, the new one comes in untranslated
    assert catalogues.problems(package) == [f"{po}: not translated 'Vendor'"]
    assert "Vendor page" not in po.read_text(encoding="utf-8")


def test_the_languages_offered_have_their_own_names():
    assert LOCALES == {"en": "English", "zh-Hans": "简体中文"}


def test_core_0007_adds_the_staff_locale_column_to_an_existing_database(crm_url, clock):
    from crmkit import migrate

    with CRM.open(crm_url, clock=clock, create=True) as crm, crm.connect(write=True) as conn:
        crm.staff.add("bo", "Bo", "web")
        migrate.downgrade(conn, "core@core_0005")
        conn.commit()
    with CRM.open(crm_url, clock=clock, upgrade=True) as crm:
        assert crm.staff.get("bo").locale is None
        assert crm.staff.set_locale("bo", "zh-Hans").locale == "zh-Hans"


def test_a_template_rendered_outside_a_request_is_english_and_inside_one_translated(crm):
    from crmkit.web.pages import templates

    page = templates().get_template("login.html")
    values = {"root": "", "csrf": "t", "csrf_field": "csrf_token", "principal": None,
              "next": None, "error": None, "username": ""}
    english = page.render(values)
    assert '<html lang="en">' in english and "<h1>Sign in</h1>" in english
    with translating(crm, "zh-Hans"):
        chinese = page.render(values, locale="zh-Hans")
    assert '<html lang="zh-Hans">' in chinese and "<h1>登录</h1>" in chinese


def test_a_plugin_card_formats_its_money_and_instants_for_the_language_and_zone(crm):
    from crmkit.auth import Principal

    crm.plugins.configure_core({"timezone": "Asia/Shanghai"})  # instants shown in UTC+8
    crm.plugins.enable("operational")
    crm.customers.add("C1", "Lin")
    operational = crm.plugin("operational")
    operational.create_opportunity("C1", "Renewal", "1200", "CNY")
    operational.open_case("C1", "printer", "high")
    principal = Principal("ann", "agent", frozenset({"*.read"}))

    def card():
        (_, shown), = [(name, result) for name, result in crm.hooks.call(
            "crmkit_customer_card", None, crm=crm, principal=principal,
            customer={"external_id": "C1"}) if name == "operational"]
        return dict(shown.rows)

    outside = card()  # no request: English, UTC
    assert outside["Open opportunities"] == "1 (CN¥1,200.00)"
    assert outside["Case #1"].endswith("first response due Jan 1, 2025, 4:00\u202fPM")
    with translating(crm, "en"):
        english = card()
    assert english["Case #1"].endswith("first response due Jan 2, 2025, 12:00\u202fAM")
    with translating(crm, "zh-Hans"):
        chinese = card()
    assert chinese["未结商机"] == "1 (¥1,200.00)"
    assert chinese["工单 #1"].endswith("首次响应时限 2025年1月2日 00:00")
