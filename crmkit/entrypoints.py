"""A fast reader of installed entry points and distribution versions.

``importlib.metadata`` is slow to import (it pulls in the email package),
and ``crmkit --help`` lists the plugin commands on every start-up (its goal
is in docs/performance.md), so this module reads
``*.dist-info/entry_points.txt`` itself.  The first distribution of a name on
``sys.path`` wins, as with importlib.metadata.
"""

from __future__ import annotations

import os
import sys
from typing import NamedTuple


class EntryPoint(NamedTuple):
    """One entry point: its name, its ``module[:attr]`` value, and its distribution's version."""

    name: str
    value: str
    version: str


def entry_points(group: str) -> list[EntryPoint]:
    """Entry points of ``group`` from every distribution on ``sys.path``."""
    found: list[EntryPoint] = []
    seen_dists: set[str] = set()
    for folder in sys.path:
        try:
            names = os.listdir(folder or ".")
        except OSError:
            continue
        for entry in names:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            stem = entry.rsplit(".", 1)[0]
            dist = stem.split("-", 1)[0].lower().replace("_", "-")
            if dist in seen_dists:
                continue
            seen_dists.add(dist)
            path = os.path.join(folder or ".", entry)
            for name, value in _read_group(os.path.join(path, "entry_points.txt"), group):
                found.append(EntryPoint(name, value, _version(path, entry)))
    return found


def _read_group(path: str, group: str) -> list[tuple[str, str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError:
        return []
    result, inside = [], False
    for line in lines:
        line = line.strip()
        if line.startswith("["):
            inside = line == f"[{group}]"
        elif inside and "=" in line and not line.startswith(("#", ";")):
            name, _, value = line.partition("=")
            result.append((name.strip(), value.strip()))
    return result


def _version(path: str, entry: str) -> str:
    try:
        with open(os.path.join(path, "METADATA" if entry.endswith(".dist-info") else "PKG-INFO"),
                  encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("Version:"):
                    return line.split(":", 1)[1].strip()
                if not line.strip():
                    break
    except OSError:
        pass
    stem = entry.rsplit(".", 1)[0]
    return stem.rsplit("-", 1)[1] if "-" in stem else "0"


__all__ = ["EntryPoint", "entry_points"]
