"""How sure an answer is: evidence features, one calibrated confidence, and three tiers.

A question's top answer gets a confidence in [0, 1] that it is right (F1 >= 0.5 against what
a person would accept), from evidence that survives paraphrase and new topics:

- the reader: its best span's margin over the no-answer score, the span's share of the
  probability of all candidate spans (how much the windows and passages agree on it), and how
  many other top candidates are the same answer in other words or passages;
- retrieval: the best passage's question cosine, and whether the answer comes from the top
  passage;
- the question's *names and numbers* (proper nouns tagged NE by HanTa, a German tagger that
  ships its model, and numbers or dates by pattern) that the answer's passage does not
  mention. Common nouns are left out: a paraphrase ("Todesopfer" for "Tote") changes them by
  design, a fact about another person or year changes the names and numbers;
- whether the answer has the shape the question asks for (Wie viele -> a number, Wann -> a
  date, Wer/Wo -> a name), and the span's length.

A logistic model of these gives the confidence (weights from
``benchmarks/calibrate_confidence.py``); two thresholds cut it into tiers: ``confident``,
``uncertain`` (shown, flagged so the user checks the highlighted source) and ``none`` (not in
the articles: only where the evidence is clearly absent).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields, replace
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping, Sequence

from embeddings.errors import QAError
from qa.reading.reader import ReaderEvidence, normalize_answer_text
from qa.types import Answer, Hit, Tier

_TOKEN = re.compile(r"\w[\w.-]*\w|\w|[^\w\s]")
_NUMBER = re.compile(r"\d")
_YEAR = re.compile(r"\b(?:1[5-9]|20)\d\d(?:er)?\b")
_DATE = re.compile(r"\b\d{1,2}\.\s?(?:\d{1,2}\.|[A-ZÄÖÜ])|\b\d{1,2}:\d\d\b")
MONTHS = ("januar", "jänner", "februar", "märz", "april", "mai", "juni", "juli", "august",
          "september", "oktober", "november", "dezember", "january", "february", "march", "may",
          "june", "july", "october", "december")
TIME_WORDS = MONTHS + (
    "montag", "dienstag", "mittwoch", "donnerstag", "freitag", "samstag", "sonntag", "wochenende",
    "heute", "gestern", "morgen", "vorgestern", "übermorgen", "jahr", "jahren", "jahres", "monat",
    "monaten", "woche", "wochen", "tag", "tagen", "stunden", "uhr", "frühjahr", "sommer",
    "herbst", "winter", "anfang", "ende", "mitte", "seit", "bis", "nach", "vor", "zuvor",
    "damals", "bald", "derzeit", "zuletzt", "später", "kürzlich", "jahrhundert", "saison")
NUMBER_WORDS = (
    "null", "ein", "eine", "einer", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht",
    "neun", "zehn", "elf", "zwölf", "zwanzig", "dreißig", "vierzig", "fünfzig", "hundert",
    "hunderte", "tausend", "tausende", "million", "millionen", "milliarde", "milliarden",
    "dutzend", "dutzende", "hälfte", "drittel", "viertel", "prozent", "mehrere", "einige",
    "beide", "both", "one", "two", "three", "four", "five", "ten", "hundred", "thousand",
    "million", "billion", "percent", "dozen")
# Capitals stand for their countries in news German and English ("Washington und Moskau" for
# "USA und Russland"); a capital counts as mentioned where its country is, and the reverse.
CAPITALS = {
    "washington": ("usa", "us-", "vereinigte", "amerika", "weiße", "weißen"),
    "moskau": ("russland", "russisch", "kreml"), "moscow": ("russland", "russisch", "kreml"),
    "kreml": ("russland", "moskau", "putin"),
    "kiew": ("ukrain",), "kyiv": ("ukrain",), "kiev": ("ukrain",),
    "berlin": ("deutschland", "bundesregierung", "deutsch"), "paris": ("frankreich", "französisch"),
    "london": ("großbritannien", "britisch", "vereinigte königreich"),
    "brüssel": ("nato", "eu", "europäische"), "peking": ("china", "chinesisch"),
    "wien": ("österreich",), "bern": ("schweiz",), "warschau": ("polen", "polnisch"),
    "ankara": ("türkei", "türkisch"), "rom": ("italien",), "madrid": ("spanien",),
    "usa": ("washington", "amerika", "us-"), "russland": ("moskau", "kreml", "russisch"),
    "ukraine": ("kiew", "ukrain"), "deutschland": ("berlin", "bundesregierung", "deutsch"),
    "frankreich": ("paris", "französisch"), "großbritannien": ("london", "britisch"),
}
# What a question asks for, from its question word (German and English).
_KIND_PATTERNS = (
    ("number", re.compile(r"\b(?:wie\s*viele?n?|wieviele?|how\s+(?:many|much)|what\s+percentage|"
                          r"wie\s+(?:hoch|groß|lange|alt|weit)|how\s+(?:long|old|high|far))\b", re.I)),
    ("date", re.compile(r"\b(?:wann|seit\s+wann|bis\s+wann|when|in\s+welchem\s+jahr|an\s+welchem\s+tag|"
                        r"in\s+what\s+year|what\s+year|which\s+year|what\s+date|on\s+what\s+day)\b", re.I)),
    ("place", re.compile(r"^\W*(?:wo|woher|wohin|where|in\s+welche[rm]?\s+(?:stadt|land)|"
                         r"in\s+which\s+(?:city|country))\b", re.I)),
    ("name", re.compile(r"^\W*(?:(?:mit|von|für|gegen|an)\s+)?(?:wer|wen|wem|wessen|who|whom|whose|"
                        r"(?:with|by|to)\s+whom)\b", re.I)),
)
KINDS = ("number", "date", "place", "name")


def expected_kind(question: str) -> str | None:
    """What ``question`` asks for: "number", "date", "place", "name", or None (anything else)."""
    for kind, pattern in _KIND_PATTERNS:
        if pattern.search(question):
            return kind
    return None


@lru_cache(maxsize=1)
def _tagger():
    """HanTa's German tagger (its model ships in the wheel; loaded once, 0.2 s)."""
    from HanTa import HanoverTagger

    return HanoverTagger.HanoverTagger("morphmodel_ger.pgz")


@lru_cache(maxsize=4096)
def tag(text: str) -> tuple[tuple[str, str], ...]:
    """(token, STTS tag) pairs of ``text``: NE proper noun, NN noun, CARD number, ..."""
    tokens = _TOKEN.findall(text)
    if not tokens:
        return ()
    return tuple((word, pos) for word, _lemma, pos in _tagger().tag_sent(list(tokens), taglevel=1))


def names_and_numbers(question: str, *, english: bool) -> tuple[str, ...]:
    """The terms of ``question`` a paraphrase keeps: numbers (by pattern or HanTa's CARD) and,
    for a German question, proper nouns (HanTa's NE; a common noun such as "Nato-Gipfel" is
    NN and does not count). The first word is the question word and is skipped. English names
    are spelt differently in German articles ("Russia", "Russland"), so an English question
    contributes its numbers only."""
    words = [(w, "") for w in _TOKEN.findall(question)] if english else tag(question)[1:]
    terms: list[str] = []
    for word, pos in words:
        if len(word) < 2:
            continue
        if _NUMBER.search(word) or (not english and pos == "CARD" and word.casefold() not in NUMBER_WORDS):
            terms.append(word)
        elif not english and pos == "NE" and len(word) >= 3:
            terms.append(word)
    return tuple(dict.fromkeys(terms))


def mentions(passage: str, term: str) -> bool:
    """Whether ``passage`` mentions ``term``: its first five characters occur in it, case-folded
    (so "Russlands" finds "Russland", "Nato" finds "Nato-Gipfel"), or, for a capital or country,
    its counterpart does (``CAPITALS``) at the start of a word ("eu" in "EU-Gipfel", not in
    "neue"). Numbers must occur whole."""
    text = passage.casefold()
    folded = term.casefold()
    if _NUMBER.search(folded):
        digits = re.sub(r"\D", "", folded)
        return folded in text or (len(digits) >= 3 and digits in re.sub(r"(?<=\d)[\s.\u202f\u00a0](?=\d)", "", text))
    if folded[:5] in text:
        return True
    return any(re.search(rf"(?<!\w){re.escape(alias)}", text) for alias in CAPITALS.get(folded, ()))


def kind_agreement(kind: str | None, answer: str) -> float:
    """+1 when the answer has the shape the question asks for, -1 when it clearly has not,
    0 when the question asks for anything or the shape is open."""
    if kind is None:
        return 0.0
    folded = answer.casefold()
    words = set(re.findall(r"\w+", folded))
    has_number = bool(_NUMBER.search(answer)) or bool(words & set(NUMBER_WORDS))
    if kind == "number":
        return 1.0 if has_number else -1.0
    if kind == "date":
        if _YEAR.search(answer) or _DATE.search(answer) or words & set(TIME_WORDS):
            return 1.0
        return 0.0 if has_number else -1.0
    tags = [pos for _word, pos in tag(answer)]
    if "NE" in tags:
        return 1.0
    if kind == "name" and any(pos.startswith("NN") for pos in tags):
        return 0.0   # "der Präsident", "die Regierung": a role or body can answer "Wer"
    if kind == "place" and any(pos.startswith("NN") for pos in tags):
        return 0.0
    if answer[:1].isupper() and not has_number:
        return 0.0   # a capitalised word HanTa does not know: perhaps a name
    return -1.0


@dataclass(frozen=True, slots=True)
class ConfidenceFeatures:
    """The evidence of one question's top answer (see the module docstring)."""

    margin: float            # best span logit - no-answer logit
    retrieval: float         # best passage's question cosine
    probability: float       # the top answer's share of all candidate spans' probability
    support: float           # probability of the other top candidates that are the same answer
    unmentioned: float       # share of the question's names and numbers the passage lacks
    kind: float              # +1 / 0 / -1: the answer's shape against the question word
    length: float            # log(1 + characters of the answer)
    off_top: float           # 1 when the answer does not come from the best passage
    english: float           # 1 for an English question
    unmentioned_terms: tuple[str, ...] = ()

    def vector(self, names: Sequence[str]) -> list[float]:
        return [float(getattr(self, name)) for name in names]


FEATURE_NAMES = tuple(f.name for f in fields(ConfidenceFeatures) if f.name != "unmentioned_terms")
# Top candidates read for the agreement feature, whatever the caller's top_n.
SUPPORT_CANDIDATES = 5


def dense_similarity(hit: Hit) -> float:
    """Question-passage cosine, whatever the retrieval mode (fused scores are rank-based)."""
    return hit.score if hit.dense_score is None else hit.dense_score


def _same_answer(a: Answer, b: Answer) -> bool:
    x, y = normalize_answer_text(a.text), normalize_answer_text(b.text)
    return bool(x) and bool(y) and (x in y or y in x)


def evidence_features(question: str, hits: Sequence[Hit], evidence: ReaderEvidence, *,
                      english: bool) -> ConfidenceFeatures | None:
    """The features of ``question``'s top answer (None when the reader found no span)."""
    margin = evidence.no_answer_margin
    if not evidence.answers or margin is None or not hits:
        return None
    top = evidence.answers[0]
    terms = names_and_numbers(question, english=english)
    missing = tuple(t for t in terms if not mentions(top.hit.chunk.text, t))
    best_hit = max(hits, key=dense_similarity)
    support = sum(a.score for a in evidence.answers[1:SUPPORT_CANDIDATES] if _same_answer(a, top))
    return ConfidenceFeatures(
        margin=float(margin),
        retrieval=float(dense_similarity(best_hit)),
        probability=float(top.score),
        support=float(support),
        unmentioned=len(missing) / len(terms) if terms else 0.0,
        kind=kind_agreement(expected_kind(question), top.text),
        length=math.log1p(len(top.text)),
        off_top=0.0 if top.hit.chunk == best_hit.chunk else 1.0,
        english=1.0 if english else 0.0,
        unmentioned_terms=missing,
    )


def _weights(**values: float) -> Mapping[str, float]:
    return MappingProxyType(dict(values))


@dataclass(frozen=True, slots=True)
class ConfidencePolicy:
    """A logistic model of "this answer is right" and the two cuts that make tiers.

    The weights are on the raw feature scale; ``none_below`` and ``confident_from`` are
    confidences in [0, 1]. ``none_below=0`` never says "not in the articles".
    """

    # Fitted by `python benchmarks/calibrate_confidence.py fit` on the fit rows only: XQuAD
    # 0-39 read with, without and with the answer sentence cut from the gold paragraph, and
    # with a name swapped; eval/abstention_calibration.jsonl; the fit halves of
    # eval/seeds_paraphrase.jsonl and eval/gnad_dev.jsonl. Of the feature sets compared by
    # cross-validation, margin + cosine + unmentioned names + English was within 0.5 of the best
    # out-of-fold area (72.4; every feature: 70.3; with the span's probability: 72.6) with the
    # fewest features: the answer-kind, agreement, length and top-passage features did not
    # add (docs/BENCHMARKS.md, "Confidence and tiers"). The cuts come from out-of-fold
    # confidences of the users'-style fit rows: "none" keeps 97 % of answerable questions
    # out, "confident" answers were at least 88 % right there.
    weights: Mapping[str, float] = field(default_factory=lambda: _weights(
        margin=0.1647, retrieval=18.5938, unmentioned=-1.4488, english=0.205))
    bias: float = -19.1189
    none_below: float = 0.0233
    confident_from: float = 0.6234

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(FEATURE_NAMES)
        if unknown:
            raise QAError(f"unknown confidence feature(s) {sorted(unknown)}; known: {FEATURE_NAMES}")
        for name in ("none_below", "confident_from"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
                raise QAError(f"{name} must be a number from 0 to 1, got {value!r}")
        if self.confident_from < self.none_below:
            raise QAError(f"confident_from ({self.confident_from}) must not be below none_below "
                          f"({self.none_below})")

    def probability(self, features: ConfidenceFeatures) -> float:
        """P(the answer is right) in [0, 1]."""
        z = self.bias + sum(w * float(getattr(features, name)) for name, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-max(min(z, 60.0), -60.0)))

    def tier(self, confidence: float, *, has_answer: bool = True) -> Tier:
        """``none`` below ``none_below`` (or without a span), ``confident`` from
        ``confident_from``, ``uncertain`` between."""
        if not has_answer or confidence < self.none_below:
            return "none"
        return "confident" if confidence >= self.confident_from else "uncertain"

    def with_threshold(self, threshold: float) -> "ConfidencePolicy":
        """This policy saying "none" below ``threshold`` (0: never); the confident cut is kept
        unless it would fall below the new threshold."""
        return replace(self, none_below=threshold, confident_from=max(self.confident_from, threshold))
