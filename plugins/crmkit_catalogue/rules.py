"""Association rules over baskets: frequent itemsets (exact, level-wise) and their rules.

Baskets are a 0/1 sparse matrix (baskets × products).  Level k counts every
frequent (k−1)-itemset extended by a larger product in one sparse product
``Lᵀ·X`` (L: which baskets hold each frequent (k−1)-itemset), keeps the counts ≥
the minimum, and builds the next L by an element-wise product of columns — no
Python loop over baskets or basket pairs.  This finds exactly the itemsets
FP-growth finds (every itemset whose support reaches the minimum), so the
rules agree with mlxtend's ``fpgrowth`` + ``association_rules``.

For a rule A → C over n baskets: support = count(A ∪ C) / n, confidence =
support(A ∪ C) / support(A), lift = confidence / support(C), computed in the same
floating-point steps as mlxtend so that a rule at a threshold is kept or cut alike.
"""

from __future__ import annotations

import math
from itertools import combinations
from typing import NamedTuple

import numpy as np
from scipy import sparse


class Rules(NamedTuple):
    """Rules as parallel arrays; itemsets as tuples of product indexes."""

    antecedents: list[tuple[int, ...]]
    consequents: list[tuple[int, ...]]
    support: np.ndarray
    confidence: np.ndarray
    lift: np.ndarray
    baskets: int


def basket_matrix(basket_ids: np.ndarray, product_ids: np.ndarray, products: int
                  ) -> sparse.csc_matrix:
    """The 0/1 baskets × products matrix of ``(basket, product)`` pairs (repeats count once)."""
    _, rows = np.unique(basket_ids, return_inverse=True)
    data = np.ones(len(rows), dtype=np.int32)
    m = sparse.csr_matrix((data, (rows, product_ids)), shape=(int(rows.max(initial=-1)) + 1,
                                                             products))
    m.data[:] = 1  # a product listed twice in one basket
    return m.tocsc()


def frequent_itemsets(x: sparse.csc_matrix, min_support: float, max_len: int
                      ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per size k: ``(itemsets k-column array of product indexes, counts)`` of the itemsets in
    at least ``min_support`` of the baskets (sorted within each itemset)."""
    n = x.shape[0]
    # as mlxtend: a count of at least ⌈min_support · n⌉ whose support count / n ≥ min_support
    least = max(1, math.ceil(min_support * n))
    while least / n < min_support:
        least += 1
    counts = np.asarray(x.sum(axis=0)).ravel()
    keep = np.flatnonzero(counts >= least)
    found = {1: (keep[:, None], counts[keep])}
    xf = x[:, keep].astype(np.int32)
    level = xf  # baskets × frequent (k−1)-itemsets
    sets = np.arange(len(keep))[:, None]  # in positions of ``keep``
    for k in range(2, max_len + 1):
        if not len(sets):
            break
        together = (level.T @ xf).tocoo()  # (itemset, product) → baskets holding both
        take = (together.data >= least) & (together.col > sets[together.row, -1])
        rows, cols, hits = together.row[take], together.col[take], together.data[take]
        if not len(rows):
            break
        order = np.lexsort((cols, rows))
        rows, cols, hits = rows[order], cols[order], hits[order]
        sets = np.hstack([sets[rows], cols[:, None]])
        found[k] = (keep[sets], hits)
        if k < max_len:
            level = level[:, rows].multiply(xf[:, cols]).tocsc()
    return found


def _key(itemsets: np.ndarray, base: int) -> np.ndarray:
    key = np.zeros(len(itemsets), dtype=np.int64)
    for column in range(itemsets.shape[1]):
        key = key * base + itemsets[:, column]
    return key


def mine(x: sparse.csc_matrix, min_support: float, min_confidence: float, min_lift: float,
         max_len: int) -> Rules:
    """Every rule A → C (A, C non-empty, disjoint, A ∪ C frequent) with confidence ≥
    ``min_confidence`` and lift ≥ ``min_lift``."""
    n = x.shape[0]
    base = x.shape[1] + 1
    if base ** max_len >= 2 ** 62:
        raise ValueError(f"{x.shape[1]} products: itemsets of {max_len} do not fit a 64-bit key")
    found = frequent_itemsets(x, min_support, max_len) if n else {}
    lookup = {}
    for k, (sets, counts) in found.items():
        keys = _key(sets, base)
        order = np.argsort(keys)
        lookup[k] = (keys[order], counts[order])

    def count_of(subsets: np.ndarray) -> np.ndarray:
        keys, counts = lookup[subsets.shape[1]]
        return counts[np.searchsorted(keys, _key(subsets, base))]

    ante, cons, sup, conf, lift = [], [], [], [], []
    for k in range(2, max(found, default=1) + 1):
        sets, counts = found[k]
        for size in range(1, k):
            for chosen in combinations(range(k), size):
                rest = [c for c in range(k) if c not in chosen]
                a, c = sets[:, list(chosen)], sets[:, rest]
                support = counts / n
                # in mlxtend's floating-point steps, so thresholds cut at the same rules
                confidence = (support * n) / ((count_of(a) / n) * n)
                lifted = confidence / (count_of(c) / n)
                ok = (confidence >= min_confidence) & (lifted >= min_lift)
                ante.extend(map(tuple, a[ok].tolist()))
                cons.extend(map(tuple, c[ok].tolist()))
                sup.append(support[ok])
                conf.append(confidence[ok])
                lift.append(lifted[ok])
    cat = lambda parts: np.concatenate(parts) if parts else np.zeros(0)  # noqa: E731
    return Rules(ante, cons, cat(sup), cat(conf), cat(lift), n)
