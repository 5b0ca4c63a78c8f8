"""Exact match and token F1 with SQuAD v1.1 normalisation, and MLQA's German variant.

``squad``: lowercase, drop ASCII punctuation (``string.punctuation``), drop a/an/the,
collapse whitespace: exactly the official SQuAD v1.1 script.
``de``: MLQA's scorer for German: lowercase, drop every Unicode punctuation character
(so „…“ and « » go too), drop der/die/das/den/dem/des/ein/eine/einen/einem/einer/eines
(not the English articles: MLQA removes only the language's own), collapse whitespace.
Both collapse any Unicode whitespace, NBSP included (``str.split``).

An empty prediction scores against an empty gold as in the SQuAD 2.0 script (both
empty: 1, one empty: 0). Abstaining is scored by :func:`score_answer`.
"""
from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Literal

Normalisation = Literal["squad", "de"]
NORMALISATIONS: tuple[Normalisation, ...] = ("squad", "de")

_ASCII_PUNCT = frozenset(string.punctuation)
_ENGLISH_ARTICLES = re.compile(r"\b(a|an|the)\b")
_GERMAN_ARTICLES = re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b")


def _is_punctuation(ch: str) -> bool:
    """MLQA's set: every Unicode category P* character, plus ASCII punctuation ($, +, <, ...)."""
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(text: str, *, normalisation: Normalisation = "squad") -> str:
    """The normalised form that EM compares and F1 splits into tokens."""
    text = text.lower()
    if normalisation == "squad":
        text = "".join(ch for ch in text if ch not in _ASCII_PUNCT)
        text = _ENGLISH_ARTICLES.sub(" ", text)
    elif normalisation == "de":
        text = "".join(ch for ch in text if not _is_punctuation(ch))
        text = _GERMAN_ARTICLES.sub(" ", text)
    else:
        raise ValueError(f"unknown normalisation {normalisation!r}; use one of {NORMALISATIONS}")
    return " ".join(text.split())


def exact_match(prediction: str, gold: str, *, normalisation: Normalisation = "squad") -> float:
    return float(
        normalize_answer(prediction, normalisation=normalisation)
        == normalize_answer(gold, normalisation=normalisation)
    )


def f1_score(prediction: str, gold: str, *, normalisation: Normalisation = "squad") -> float:
    """Token-overlap F1 between the normalised strings."""
    predicted = normalize_answer(prediction, normalisation=normalisation).split()
    expected = normalize_answer(gold, normalisation=normalisation).split()
    if not predicted or not expected:
        return float(predicted == expected)
    common = Counter(predicted) & Counter(expected)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(predicted)
    recall = same / len(expected)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True, slots=True)
class AnswerScore:
    """EM and F1 in [0, 1] under both normalisations."""

    em: float
    f1: float
    em_de: float
    f1_de: float


def score_answer(prediction: str, golds: Iterable[str], *, abstained: bool) -> AnswerScore:
    """Score one prediction: max over the gold answers; ``golds`` empty means "no answer".

    Abstaining on a no-answer question scores 1, abstaining on an answerable one 0, and
    answering a no-answer question 0.
    """
    golds = tuple(golds)
    if not golds:
        value = 1.0 if abstained else 0.0
        return AnswerScore(value, value, value, value)
    if abstained:
        return AnswerScore(0.0, 0.0, 0.0, 0.0)
    return AnswerScore(
        em=max(exact_match(prediction, g, normalisation="squad") for g in golds),
        f1=max(f1_score(prediction, g, normalisation="squad") for g in golds),
        em_de=max(exact_match(prediction, g, normalisation="de") for g in golds),
        f1_de=max(f1_score(prediction, g, normalisation="de") for g in golds),
    )
