"""Version ranges: does this crmkit satisfy a plugin's declared ``crmkit_versions``?"""

from __future__ import annotations

import re

_CLAUSE = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*([0-9]+(?:\.[0-9]+)*)\s*$")


def parse(version: str) -> tuple[int, ...]:
    """``"0.1.0"`` → ``(0, 1, 0)`` (pre-release suffixes are ignored)."""
    numbers = re.match(r"^[0-9]+(?:\.[0-9]+)*", version.strip())
    if numbers is None:
        raise ValueError(f"not a version: {version!r}")
    return tuple(int(p) for p in numbers.group(0).split("."))


def satisfies(version: str, spec: str) -> bool:
    """True when ``version`` meets every comma-separated clause of ``spec`` (``>=0.1,<1``)."""
    have = parse(version)
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        match = _CLAUSE.match(clause)
        if match is None:
            raise ValueError(f"bad version range clause {clause!r} (use >=, <=, ==, !=, >, <)")
        op, want_text = match.groups()
        want = parse(want_text)
        width = max(len(have), len(want))
        a, b = have + (0,) * (width - len(have)), want + (0,) * (width - len(want))
        ok = {">=": a >= b, "<=": a <= b, "==": a == b, "!=": a != b, ">": a > b, "<": a < b}[op]
        if not ok:
            return False
    return True


__all__ = ["parse", "satisfies"]
