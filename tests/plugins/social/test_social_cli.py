"""``crmkit social …``: import, mentions, engagement, handles, referrals."""

from __future__ import annotations

import json

CSV = """platform,post_id,handle,text,posted_at,likes,comments,shares
twitter,1,@Alice,I love this!,2024-12-30,5,1,0
twitter,2,@alice,This is the worst service ever,2024-12-31,2,3,1
"""


def test_import_mentions_engagement_and_referrals(run_cli, tmp_path):
    assert run_cli("init")[0] == 0
    assert run_cli("plugins", "enable", "social")[0] == 0
    for ext in ("C1", "C2"):
        assert run_cli("customers", "add", ext, "--name", ext)[0] == 0
    assert run_cli("social", "link", "C1", "twitter", "@Alice") == (0, "linked\n", "")
    code, _, err = run_cli("social", "link", "C2", "Twitter", "alice")
    assert code != 0 and err == "error: twitter handle 'alice' already belongs to customer 'C1'\n"
    path = tmp_path / "mentions.csv"
    path.write_text(CSV)
    code, out, _ = run_cli("social", "import", str(path))
    assert code == 0 and out == ("read 2, created 2, updated 0, unchanged 0, rejected 0; "
                                 "negative-mention events 1\n")
    code, out, _ = run_cli("social", "import", str(path))
    assert out.startswith("read 2, created 0, updated 0, unchanged 2")
    bad = tmp_path / "bad.csv"
    bad.write_text(CSV + "twitter,3,@bob,hi,2024-13-45,1,1,1\ntwitter,4,,hi,2024-12-01,1,1,1\n")
    code, _, err = run_cli("social", "import", str(bad))
    assert code != 0
    assert err.splitlines()[0].startswith("error: line 4: posted_at: '2024-13-45' is not an ISO")
    assert err.splitlines()[1] == "line 5: handle: required"
    code, out, _ = run_cli("social", "mentions", "--label", "negative", "--format", "json")
    [mention] = json.loads(out)
    assert (mention["external_id"], mention["sentiment"], mention["label"]) == ("C1", -0.6249,
                                                                               "negative")
    code, out, _ = run_cli("social", "engagement", "--as-of", "2025-01-01", "--periods", "2",
                           "--format", "json")
    assert [(r["period_start"], r["handle"], r["engagement"]) for r in json.loads(out)] == [
        ("2024-12-01T00:00:00+00:00", "alice", 5 + 2 + 2 + 6 + 3)]
    code, out, _ = run_cli("social", "sentiment", "I love this!", "--format", "json")
    assert json.loads(out) == {"score": 0.6696, "label": "positive", "language": "en",
                               "analyser": "vader"}
    code, out, _ = run_cli("social", "handles", "--format", "csv")
    assert out.splitlines()[:2] == ["customer,platform,handle,linked_at",
                                    out.splitlines()[1]] and out.splitlines()[1].startswith(
        "C1,twitter,alice,")
    code, out, _ = run_cli("social", "referral-code", "C1")
    referral = out.strip()
    assert code == 0 and len(referral) == 10
    assert run_cli("social", "redeem", referral, "C2") == (0, "C2 referred by C1\n", "")
    code, _, err = run_cli("social", "redeem", referral, "C2")
    assert code != 0 and "already referred by 'C1'" in err
    code, out, _ = run_cli("social", "referrals", "--format", "json")
    assert [(r["referrer"], r["referee"], r["converted"]) for r in json.loads(out)] == [
        ("C1", "C2", False)]
