"""The email channel writes its emails with a compat32 policy that skips building a Header for
a header that fits on its line: the bytes must be exactly what compat32 writes."""

from __future__ import annotations

from email import policy as policies
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText

import pytest

from crmkit_campaigns.channels import UNFOLDED, UTF8

COMPAT32 = policies.compat32.clone(max_line_length=998)


def email(policy, subject) -> MIMEMultipart:
    mail = MIMEMultipart("alternative", policy=policy, boundary="b1")
    for subtype, body in (("plain", "Grüße,\nthe shop"), ("html", "<p>Hello</p>")):
        mail.attach(MIMEText(body, subtype, "us-ascii" if body.isascii() else UTF8,
                             policy=policy))
    mail["From"], mail["To"], mail["Subject"] = "news@shop.example", "c1@example.com", subject
    mail["List-Unsubscribe"] = "<https://crm.example.com/m/u/" + "x" * 150 + ">"
    mail["X-Long"] = "word " * 250                       # past the line limit: folded
    mail["X-Spaces"] = "a\tb   c "
    return mail


@pytest.mark.parametrize("subject", ["Spring offer", Header("Frühling", "utf-8"),
                                     "=?utf-8?q?looks_encoded?= but is not", "Früh"])
def test_the_bytes_are_what_compat32_writes(subject):
    ours, theirs = email(UNFOLDED, subject), email(COMPAT32, subject)
    assert ours.as_bytes() == theirs.as_bytes()
    assert ours.as_string() == theirs.as_string()
    assert max(len(line) for line in ours.as_bytes().split(b"\n")) <= 998
