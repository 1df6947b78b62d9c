"""Messages' tracking links served by a real ``crmkit serve`` process, without sign-in: a
click redirects, the pixel is a GIF, unsubscribe withdraws consent through the consent
ledger; a forged or altered link is a 404 and records nothing."""

from __future__ import annotations

import pytest

from crmkit.plugin import Outgoing

TARGET = "https://shop.example/spring?utm=crm"


@pytest.fixture
def site(served):
    """A served CRM whose public_url is the server itself, customer C1 consenting to email,
    and one message to C1 of campaign spring: ``(server, message_id)``."""
    server = served()
    with server.open() as crm:
        crm.plugins.configure_core({**crm.core_config, "public_url": server.url})
        crm.customers.add("C1", "Ada Lovelace", email="ada@example.com")
        crm.customers.set_consent("C1", "email", True, source="signup form")
        (message_id,) = crm.messages.enqueue([Outgoing(
            "email", "ada@example.com", "Hello", customer="C1",
            meta={"campaign": "spring", "variant": "A"})])
    return server, message_id


def tracked(server) -> list[tuple[str, str, str, dict]]:
    with server.open() as crm:
        return [(i.kind, i.channel, i.direction, i.payload)
                for i in reversed(crm.interactions.list(customer="C1"))]


def email_consent(server) -> tuple[bool, str]:
    with server.open() as crm:
        (consent,) = crm.customers.consents("C1")
        return consent.granted, consent.source


def test_click_open_and_unsubscribe_need_no_sign_in_and_record_on_the_customer(site):
    server, message_id = site
    with server.open() as crm:
        click = crm.messages.click_url(message_id, TARGET)
        pixel = crm.messages.open_pixel_url(message_id)
        unsubscribe = crm.messages.unsubscribe_url(message_id)
    assert click.startswith(f"{server.url}/t/c/") and pixel.startswith(f"{server.url}/t/o/")
    with server.client() as http:
        answer = http.get(click)
        assert (answer.status_code, answer.headers["location"]) == (302, TARGET)
        image = http.get(pixel)
        assert (image.status_code, image.headers["content-type"]) == (200, "image/gif")
        assert image.content.startswith(b"GIF89a")
        confirm = http.get(unsubscribe)
        assert confirm.status_code == 200 and 'data-state="confirm"' in confirm.text
        assert email_consent(server) == (True, "signup form")  # a GET changes nothing
        done = http.post(unsubscribe, content=b"List-Unsubscribe=One-Click",
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert done.status_code == 200 and 'data-state="done"' in done.text
        again = http.post(unsubscribe)
        assert again.status_code == 200 and 'data-state="already"' in again.text
    meta = {"campaign": "spring", "variant": "A", "message_id": message_id}
    assert tracked(server) == [
        ("message.clicked", "email", "inbound", {**meta, "url": TARGET}),
        ("message.opened", "email", "inbound", meta),
        ("message.unsubscribed", "email", "inbound", meta)]
    assert email_consent(server) == (False, f"unsubscribe link {message_id}")
    with server.open() as crm:
        (change,) = [h for h in crm.customers.history("C1") if h.action == "consent"
                     and h.changes["granted"] == [True, False]]
        assert change.changes["source"] == ["signup form", f"unsubscribe link {message_id}"]
        assert not crm.customers.has_consent(crm.customers.get("C1").id, "email")


def test_forged_or_altered_links_are_refused_and_record_nothing(site):
    server, message_id = site
    with server.open() as crm:
        click = crm.messages.click_url(message_id, TARGET)
        unsubscribe = crm.messages.unsubscribe_url(message_id)
    body, mac = click.rsplit("/", 1)[1].split(".")
    other = "A" if body[5] != "A" else "B"
    forged = [
        f"{server.url}/t/c/{body[:5]}{other}{body[6:]}.{mac}",       # altered message or URL
        f"{server.url}/t/c/{body}.{mac[:-1]}{'A' if mac[-1] != 'A' else 'B'}",  # altered MAC
        f"{server.url}/t/c/{body}",                                    # no MAC
        f"{server.url}/t/c/{body}.%C3%A9",                             # a MAC not in ASCII
        f"{server.url}/t/o/{body}.{mac}",                              # a click token as a pixel
        f"{server.url}/t/c/{unsubscribe.rsplit('/', 1)[1]}",           # another kind's token
        f"{server.url}/t/c/not-a-token.AAAAAAAAAAAAAAAAAAAAAA"]
    with server.client() as http:
        for link in forged:
            answer = http.get(link)
            assert (answer.status_code, 'data-state="invalid"' in answer.text) == (404, True), link
        body_u, mac_u = unsubscribe.rsplit("/", 1)[1].split(".")
        refused = http.post(f"{server.url}/t/u/{body_u}.{mac_u[::-1]}")
        assert refused.status_code == 404
        assert http.head(click).status_code == 302  # a link checker's HEAD: nothing recorded
    assert tracked(server) == []
    assert email_consent(server) == (True, "signup form")
