"""EM/F1 against hand-worked examples: SQuAD v1.1 normalisation and MLQA's German variant."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.evaluation.scoring import exact_match, f1_score, normalize_answer, score_answer


@pytest.mark.parametrize("text, squad, de", [
    ("The Genf talks!", "genf talks", "the genf talks"),            # English articles: SQuAD only
    ("Der Bundestag", "der bundestag", "bundestag"),                # German articles: German only
    ("die Verhandlungen des Rates", "die verhandlungen des rates", "verhandlungen rates"),
    ("dieser Dasein Deren", "dieser dasein deren", "dieser dasein deren"),  # whole words only
    ("eine Einigung einem Einer", "eine einigung einem einer", "einigung"),
    ("„Genf“", "„genf“", "genf"),                                   # Unicode quotes: P* category
    ("«Genf»", "«genf»", "genf"),
    ("13.000 Menschen", "13000 menschen", "13000 menschen"),
    ("13\u00a0000", "13 000", "13 000"),                             # NBSP is whitespace
    ("  ÜBER   Äpfel\tund\nÖl ", "über äpfel und öl", "über äpfel und öl"),
    ("US-Sondergesandte", "ussondergesandte", "ussondergesandte"),
    ("", "", ""),
    ("Die", "die", ""),
])
def test_normalisation_by_hand(text, squad, de):
    assert normalize_answer(text, normalisation="squad") == squad
    assert normalize_answer(text, normalisation="de") == de


def test_exact_match_ignores_case_articles_and_punctuation():
    assert exact_match("The Normans.", "Normans") == 1.0
    assert exact_match("die NATO", "NATO") == 0.0                      # SQuAD keeps "die"
    assert exact_match("die NATO", "NATO", normalisation="de") == 1.0
    assert exact_match("„Genf“", "Genf") == 0.0                        # ASCII punctuation only
    assert exact_match("„Genf“", "Genf", normalisation="de") == 1.0
    assert exact_match("Genf", "Bern") == 0.0


def test_f1_worked_example():
    # SQuAD: [der, präsident, selenskyj] vs [präsident, wolodymyr, selenskyj]: 2 common,
    # P = R = 2/3, F1 = 2/3. German drops "der": P = 2/2, R = 2/3, F1 = 0.8.
    prediction, gold = "der Präsident Selenskyj", "Präsident Wolodymyr Selenskyj"
    assert f1_score(prediction, gold) == pytest.approx(2 / 3)
    assert f1_score(prediction, gold, normalisation="de") == pytest.approx(0.8)


def test_f1_counts_repeated_tokens_once_per_occurrence():
    # [genf, genf, genf] vs [genf, bern]: common = 1, P = 1/3, R = 1/2, F1 = 0.4
    assert f1_score("Genf Genf Genf", "Genf Bern") == pytest.approx(0.4)


def test_empty_strings():
    assert exact_match("", "") == 1.0
    assert f1_score("", "") == 1.0
    assert f1_score("", "Genf") == 0.0
    assert f1_score("Genf", "") == 0.0
    assert f1_score("the", "a") == 1.0          # both normalise to nothing
    assert f1_score("die", "Genf", normalisation="de") == 0.0


def test_score_answer_takes_the_best_gold():
    score = score_answer("Steve Witkoff", ["Witkoff", "Steve Witkoff"], abstained=False)
    assert (score.em, score.f1) == (1.0, 1.0)
    score = score_answer("Sondergesandte Witkoff", ["Steve Witkoff", "Witkoff"], abstained=False)
    assert score.em == 0.0
    assert score.f1 == pytest.approx(2 / 3)     # vs "Witkoff": P 1/2, R 1
    assert score.em_de == 0.0 and score.f1_de == pytest.approx(2 / 3)


def test_abstention_scoring():
    assert score_answer("", [], abstained=True) == score_answer("", (), abstained=True)
    assert score_answer("", [], abstained=True).em == 1.0
    assert score_answer("", [], abstained=True).f1_de == 1.0
    assert score_answer("Genf", [], abstained=False).f1 == 0.0
    assert score_answer("Genf", ["Genf"], abstained=True).f1 == 0.0
    assert score_answer("Genf", ["Genf"], abstained=True).em_de == 0.0


text_strategy = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)


@given(text_strategy, text_strategy)
def test_f1_properties(prediction, gold):
    for normalisation in ("squad", "de"):
        f1 = f1_score(prediction, gold, normalisation=normalisation)
        assert 0.0 <= f1 <= 1.0
        if exact_match(prediction, gold, normalisation=normalisation):
            assert f1 == 1.0
        assert f1 == pytest.approx(f1_score(gold, prediction, normalisation=normalisation))


@given(text_strategy)
def test_normalisation_is_idempotent(text):
    for normalisation in ("squad", "de"):
        once = normalize_answer(text, normalisation=normalisation)
        assert normalize_answer(once, normalisation=normalisation) == once
        assert once == once.strip() and "  " not in once
