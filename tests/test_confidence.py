"""qa/answering/confidence.py: the evidence features, the policy and its tiers."""
from __future__ import annotations

import math

import pytest

from embeddings.chunking import Chunk
from qa.answering.confidence import (FEATURE_NAMES, ConfidenceFeatures, ConfidencePolicy, evidence_features,
                           expected_kind, kind_agreement, mentions, names_and_numbers)
from embeddings.errors import QAError
from qa.reading.reader import ReaderEvidence
from qa.types import Answer, Hit


@pytest.mark.parametrize("question, kind", [
    ("Wie viele Menschen sind im Donbass getötet worden?", "number"),
    ("How many people died?", "number"),
    ("Wann beginnen die Gespräche?", "date"),
    ("Seit wann gibt es die Nato?", "date"),
    ("In welchem Jahr trat Schweden bei?", "date"),
    ("Wo finden die Gespräche statt?", "place"),
    ("Where are the talks?", "place"),
    ("Wer ist der US-Sondergesandte?", "name"),
    ("Mit wem sprach Biden?", "name"),
    ("Who is the envoy?", "name"),
    ("Was hat Biden angeboten?", None),
    ("Warum schickt die Nato keine Truppen?", None),
])
def test_expected_kind_follows_the_question_word(question, kind):
    assert expected_kind(question) == kind


@pytest.mark.parametrize("kind, answer, expected", [
    ("number", "Mehr als 13 000", 1.0), ("number", "drei Millionen", 1.0), ("number", "Genf", -1.0),
    ("date", "am 9. und 10. Januar", 1.0), ("date", "2014", 1.0), ("date", "Joe Biden", -1.0),
    ("name", "Steve Witkoff", 1.0), ("name", "der Präsident", 0.0), ("name", "zugesichert", -1.0),
    ("place", "in Genf", 1.0), ("place", "13 000", -1.0), (None, "irgendwas", 0.0),
])
def test_kind_agreement(kind, answer, expected):
    assert kind_agreement(kind, answer) == expected


def test_names_and_numbers_keep_proper_nouns_and_numbers_not_common_nouns():
    terms = names_and_numbers("Wie viele Todesopfer gab es in der Ostukraine seit 2014?", english=False)
    assert "2014" in terms and "Todesopfer" not in terms
    terms = names_and_numbers("Was hat Biden Selenskyj vor dem Nato-Gipfel in Vilnius angeboten?", english=False)
    assert {"Biden", "Selenskyj", "Vilnius"} <= set(terms) and "Nato-Gipfel" not in terms
    # English names are spelt differently in German articles: only numbers count
    assert names_and_numbers("How many soldiers did Germany send to Lithuania in 2023?", english=True) == ("2023",)


def test_mentions_tolerates_inflection_capitals_and_spaced_numbers():
    passage = "Die Gespräche der USA mit Russlands Vertretern; mehr als 13 000 Tote."
    assert mentions(passage, "Russland") and mentions(passage, "USA")
    assert mentions(passage, "Washington") and mentions(passage, "Moskau")   # capital for country
    assert mentions(passage, "13000") and mentions(passage, "13 000")
    assert not mentions(passage, "Frankreich") and not mentions(passage, "2014")
    # a counterpart counts only at the start of a word: "eu" in "EU-Gipfel", not in "neue"
    assert mentions("Beim EU-Gipfel hieß es", "Brüssel")
    assert not mentions("Die neue Regel gilt heute", "Brüssel")


def _hit(text: str, *, rank: int = 1, cosine: float = 0.8, doc: str = "d.txt") -> Hit:
    chunk = Chunk(doc, 0, len(text), text, ((0, len(text)),))
    return Hit(chunk=chunk, score=cosine, rank=rank, dense_score=cosine)


def _answer(hit: Hit, text: str, score: float) -> Answer:
    start = hit.chunk.text.index(text)
    return Answer(text=text, score=score, doc_id=hit.doc_id, title="", start=start, end=start + len(text),
                  sentence=hit.chunk.text, sentence_start=0, sentence_end=len(hit.chunk.text), hit=hit,
                  reader="fake")


def test_evidence_features_are_computed_from_the_top_answer():
    best = _hit("Die USA sprechen in Genf mit Russland.", cosine=0.85)
    other = _hit("Die Delegation fuhr nach Genf weiter.", rank=2, cosine=0.8, doc="e.txt")
    answers = (_answer(other, "Genf", 0.6), _answer(best, "in Genf", 0.3))
    evidence = ReaderEvidence(answers, (8.0, 7.0), (1.0, 1.0), 8.0, 1.0, 0.01, 10, 2)
    f = evidence_features("Wo sprechen die USA mit Frankreich?", [best, other], evidence, english=False)
    assert f.margin == 7.0 and f.retrieval == 0.85 and f.probability == 0.6
    assert f.support == 0.3                 # "in Genf" from the other passage agrees
    assert f.kind == 1.0 and f.off_top == 1.0 and f.english == 0.0
    assert f.length == pytest.approx(math.log1p(4))
    assert f.unmentioned_terms == ("USA", "Frankreich") and f.unmentioned == 1.0  # not in `other`
    empty = ReaderEvidence((), (), (), None, 1.0, 1.0, 0, 1)
    assert evidence_features("Wo?", [best], empty, english=False) is None


def test_policy_probability_and_tiers():
    policy = ConfidencePolicy(weights={"margin": 1.0}, bias=0.0, none_below=0.3, confident_from=0.7)
    features = ConfidenceFeatures(**{name: 0.0 for name in FEATURE_NAMES})
    assert policy.probability(features) == pytest.approx(0.5)
    assert policy.tier(0.2) == "none" and policy.tier(0.5) == "uncertain" and policy.tier(0.7) == "confident"
    assert policy.tier(0.99, has_answer=False) == "none"
    never = policy.with_threshold(0.0)
    assert never.tier(0.0) == "uncertain" and never.confident_from == 0.7
    strict = policy.with_threshold(0.9)
    assert strict.confident_from == 0.9 and strict.tier(0.8) == "none"


@pytest.mark.parametrize("options, message", [
    ({"weights": {"colour": 1.0}}, "unknown confidence feature"),
    ({"none_below": 1.5}, "none_below"),
    ({"none_below": 0.8, "confident_from": 0.5}, "must not be below"),
])
def test_bad_policies_are_clear_errors(options, message):
    with pytest.raises(QAError, match=message):
        ConfidencePolicy(**options)


def test_the_shipped_policy_knows_every_feature_it_weighs():
    policy = ConfidencePolicy()
    assert set(policy.weights) <= set(FEATURE_NAMES)
    assert 0.0 < policy.none_below <= policy.confident_from < 1.0
