"""Fusing a dense and a BM25 ranking into one: reciprocal rank fusion or a weighted score sum.

Dense cosine scores (bunched between 0.7 and 0.9 for e5) and BM25 scores (unbounded, corpus
dependent) live on different scales, so they cannot be added as they are. Reciprocal rank
fusion (Cormack et al. 2009) uses only ranks; the weighted sum first min-max normalises
each list to [0, 1]. Both are pure functions over ``(row, score)`` lists, best first.
"""
from __future__ import annotations

from typing import Sequence

Ranking = Sequence[tuple[int, float]]

METHODS = ("rrf", "weighted")
RRF_K = 60  # Cormack et al.'s constant: damps the gap between the first few ranks
# Chosen on XQuAD-de articles 0-39 (German and English questions) by
# experiments/retrieval_modes.py: the weighted sum with 0.8 on dense was best there, and it
# also keeps English questions (where German BM25 finds little) close to dense alone.
DEFAULT_METHOD = "weighted"
DEFAULT_DENSE_WEIGHT = {"rrf": 0.5, "weighted": 0.8}


def reciprocal_rank_fusion(dense: Ranking, sparse: Ranking, *, rrf_k: float = RRF_K,
                           dense_weight: float = 0.5) -> list[tuple[int, float]]:
    """Score = 2 * (w / (rrf_k + dense_rank) + (1 - w) / (rrf_k + sparse_rank)), ranks from 1.

    With ``dense_weight=0.5`` this is plain RRF, ``sum 1 / (rrf_k + rank)``; a row missing
    from a list gets nothing from that list.
    """
    _check(dense_weight, rrf_k)
    fused: dict[int, float] = {}
    for ranking, weight in ((dense, dense_weight), (sparse, 1.0 - dense_weight)):
        for rank, (row, _score) in enumerate(ranking, start=1):
            fused[row] = fused.get(row, 0.0) + 2.0 * weight / (rrf_k + rank)
    return _ordered(fused)


def min_max(ranking: Ranking) -> dict[int, float]:
    """Scores mapped to [0, 1] within the list (best -> 1, worst -> 0; all equal -> 1)."""
    if not ranking:
        return {}
    scores = [score for _row, score in ranking]
    low, high = min(scores), max(scores)
    if high == low:
        return {row: 1.0 for row, _score in ranking}
    return {row: (score - low) / (high - low) for row, score in ranking}


def weighted_sum(dense: Ranking, sparse: Ranking, *,
                 dense_weight: float = 0.5) -> list[tuple[int, float]]:
    """Score = w * minmax(dense) + (1 - w) * minmax(sparse); a missing row counts 0 there."""
    _check(dense_weight, 1.0)
    dense_norm, sparse_norm = min_max(dense), min_max(sparse)
    fused = {row: dense_weight * dense_norm.get(row, 0.0) + (1.0 - dense_weight) * sparse_norm.get(row, 0.0)
             for row in {**dense_norm, **sparse_norm}}
    return _ordered(fused)


def fuse(dense: Ranking, sparse: Ranking, *, method: str = DEFAULT_METHOD, k: int | None = None,
         rrf_k: float = RRF_K, dense_weight: float | None = None) -> list[tuple[int, float]]:
    """Fuse two rankings with ``method`` ("rrf" or "weighted") and keep the best ``k``.

    ``k`` is the number of results (as in ``search(..., k=)``; ``None`` keeps all); the
    RRF constant is ``rrf_k``; ``dense_weight=None`` takes the method's default (plain RRF,
    or 0.8 for the weighted sum). Ties break by row id, so the result is deterministic.
    Give each list enough candidates (50-100): the weighted sum normalises within the lists.
    """
    if dense_weight is None and method in DEFAULT_DENSE_WEIGHT:
        dense_weight = DEFAULT_DENSE_WEIGHT[method]
    if method == "rrf":
        fused = reciprocal_rank_fusion(dense, sparse, rrf_k=rrf_k, dense_weight=dense_weight)
    elif method == "weighted":
        fused = weighted_sum(dense, sparse, dense_weight=dense_weight)
    else:
        raise ValueError(f"unknown fusion method {method!r}; use one of {', '.join(METHODS)}")
    return fused if k is None else fused[:k]


def _check(dense_weight: float, rrf_k: float) -> None:
    if not 0.0 <= dense_weight <= 1.0:
        raise ValueError(f"dense_weight must lie in [0, 1], got {dense_weight}")
    if rrf_k < 0:
        raise ValueError(f"rrf_k must not be negative, got {rrf_k}")


def _ordered(fused: dict[int, float]) -> list[tuple[int, float]]:
    return sorted(fused.items(), key=lambda item: (-item[1], item[0]))
