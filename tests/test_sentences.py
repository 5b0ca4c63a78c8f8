"""German sentence splitting: exact spans, the tricky rules, the seed articles."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.sentences import split_blocks, split_sentences

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def sentences(text: str) -> list[str]:
    return [text[start:end] for start, end in split_sentences(text)]


def seed_sentences(prefix: str) -> list[str]:
    (path,) = SEEDS.glob(prefix + "_*.txt")
    return sentences(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "text, expected",
    [
        pytest.param(
            "In der Woche - am 9. und 10. Januar - sind Gespräche geplant. Am 12. Januar tagt der Rat.",
            ["In der Woche - am 9. und 10. Januar - sind Gespräche geplant.", "Am 12. Januar tagt der Rat."],
            id="ordinal dates",
        ),
        pytest.param(
            "Russland marschierte am 24. Februar 2022 ein. Seitdem herrscht Krieg.",
            ["Russland marschierte am 24. Februar 2022 ein.", "Seitdem herrscht Krieg."],
            id="full date",
        ),
        pytest.param(
            "Dies ist der Kampf im 21. Jahrhundert. Biden will ihn nicht verlieren.",
            ["Dies ist der Kampf im 21. Jahrhundert.", "Biden will ihn nicht verlieren."],
            id="ordinal century",
        ),
        pytest.param(
            "Die Zahl stieg auf 150. Doch niemand reagierte.",
            ["Die Zahl stieg auf 150.", "Doch niemand reagierte."],
            id="number ends sentence before an opener",
        ),
        pytest.param(
            "Das gilt z. B. für Nr. 5 und Dr. Müller. Er kam nicht.",
            ["Das gilt z. B. für Nr. 5 und Dr. Müller.", "Er kam nicht."],
            id="z. B., Nr., Dr.",
        ),
        pytest.param(
            "Dabei sind u. a. Frankreich und St. Petersburg. Die USA fehlen.",
            ["Dabei sind u. a. Frankreich und St. Petersburg.", "Die USA fehlen."],
            id="u. a., St.",
        ),
        pytest.param(
            "Es kamen ca. 300 Soldaten bzw. Polizisten. Sie blieben.",
            ["Es kamen ca. 300 Soldaten bzw. Polizisten.", "Sie blieben."],
            id="ca., bzw.",
        ),
        pytest.param(
            "Die Hilfe beträgt 2,5 Mio. Euro bzw. 1.000 Dollar, insgesamt 3 Mrd. Euro. Das reicht nicht.",
            ["Die Hilfe beträgt 2,5 Mio. Euro bzw. 1.000 Dollar, insgesamt 3 Mrd. Euro.", "Das reicht nicht."],
            id="Mio., Mrd., 1.000",
        ),
        pytest.param(
            "Das kostet 5 Mio. Die Regierung zahlt.",
            ["Das kostet 5 Mio.", "Die Regierung zahlt."],
            id="Mio. ends a sentence",
        ),
        pytest.param(
            "Mehr als 13 000 Menschen starben. Der Wert stieg auf 2.5 Prozent. Danach fiel er.",
            ["Mehr als 13 000 Menschen starben.", "Der Wert stieg auf 2.5 Prozent.", "Danach fiel er."],
            id="numbers 13 000 and 2.5",
        ),
        pytest.param(
            "Er kaufte Äpfel, Birnen etc. Die Preise stiegen.",
            ["Er kaufte Äpfel, Birnen etc.", "Die Preise stiegen."],
            id="etc. ends a sentence",
        ),
        pytest.param(
            "Er kaufte Äpfel, Birnen etc. und zahlte bar. Sie auch.",
            ["Er kaufte Äpfel, Birnen etc. und zahlte bar.", "Sie auch."],
            id="etc. inside a sentence",
        ),
        pytest.param(
            "Laut Art. 5 gilt der Bündnisfall, vgl. S. 12 ff. Vgl. dazu den Bericht. Er ist lang.",
            ["Laut Art. 5 gilt der Bündnisfall, vgl. S. 12 ff.", "Vgl. dazu den Bericht.", "Er ist lang."],
            id="Art., vgl., S., capitalised Vgl.",
        ),
        pytest.param(
            "Der Beitritt »ist ein Prozess, der Zeit braucht«, sagte Biden. Dann ging er.",
            ["Der Beitritt »ist ein Prozess, der Zeit braucht«, sagte Biden.", "Dann ging er."],
            id="guillemets mid-sentence",
        ),
        pytest.param(
            '"Dies sind reine Verteidigungshandlungen." Das sagte Biden.',
            ['"Dies sind reine Verteidigungshandlungen."', "Das sagte Biden."],
            id="closing straight quote stays",
        ),
        pytest.param(
            "»Wir kämpfen!« Er ging. „Wann kommt Hilfe?“, fragte sie. „Bald?“ fragte er.",
            ["»Wir kämpfen!«", "Er ging.", "„Wann kommt Hilfe?“, fragte sie.", "„Bald?“ fragte er."],
            id="German quotes with ! and ?",
        ),
        pytest.param(
            "US-Präsident J. Biden telefonierte. Er sagte nichts. Plan B. Die Lage bleibt.",
            ["US-Präsident J. Biden telefonierte.", "Er sagte nichts.", "Plan B.", "Die Lage bleibt."],
            id="initials",
        ),
        pytest.param(
            "teilte Selenskyj im Kurznachrichtendienst Twitter mit. Er dankte Biden.",
            ["teilte Selenskyj im Kurznachrichtendienst Twitter mit.", "Er dankte Biden."],
            id="Twitter mit. Er",
        ),
        pytest.param(
            "so wie sie Israel gegenüber leisten . Auch aus Berlin hieß es das.",
            ["so wie sie Israel gegenüber leisten .", "Auch aus Berlin hieß es das."],
            id="space before period",
        ),
        pytest.param(
            "Er sagte (siehe unten). Dann ging er. Er zögerte… Dann kam er. Wirklich?! Ja.",
            ["Er sagte (siehe unten).", "Dann ging er.", "Er zögerte…", "Dann kam er.", "Wirklich?!", "Ja."],
            id="brackets, ellipsis, ?!",
        ),
        pytest.param(
            "Die Lage: ernst. 150 Soldaten zogen ab.",
            ["Die Lage: ernst.", "150 Soldaten zogen ab."],
            id="sentence opening with a number",
        ),
        pytest.param(
            "Die Beziehungen\" führen./mau/DP/mis",
            ['Die Beziehungen" führen.', "/mau/DP/mis"],
            id="dpa sign-off",
        ),
        pytest.param(
            "Die Kosten je Std./Tag stiegen. Das ist viel.",
            ["Die Kosten je Std./Tag stiegen.", "Das ist viel."],
            id="slash after abbreviation is no sign-off",
        ),
    ],
)
def test_rules(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


def test_paragraph_break_always_ends_a_sentence() -> None:
    text = "Er kam am 9.\n\nJanuar war es kalt z. B.\n \nDr.\n\nEnde"
    assert sentences(text) == ["Er kam am 9.", "Januar war es kalt z. B.", "Dr.", "Ende"]


def test_headline_lines_are_their_own_sentences() -> None:
    text = "Macron: Konzept für Sicherheitsgarantien steht\n\nBereits am Vorabend verkündete Macron das."
    assert sentences(text) == [
        "Macron: Konzept für Sicherheitsgarantien steht",
        "Bereits am Vorabend verkündete Macron das.",
    ]


def test_single_line_breaks_after_headings_and_before_list_items() -> None:
    text = (
        "# Überschrift\nErster Satz ohne Leerzeile danach.\n- Punkt eins\n- Punkt zwei\n"
        "Kurze Dachzeile\nDie Vereinigten Staaten werden keine Truppen in die Ukraine schicken, "
        "eine Eskalation wollen sie unbedingt verhindern."
    )
    assert sentences(text) == [
        "# Überschrift",
        "Erster Satz ohne Leerzeile danach.",
        "- Punkt eins",
        "- Punkt zwei",
        "Kurze Dachzeile",
        "Die Vereinigten Staaten werden keine Truppen in die Ukraine schicken, "
        "eine Eskalation wollen sie unbedingt verhindern.",
    ]


def test_editorial_note_line_is_not_glued_to_the_dateline() -> None:
    text = "(neu: mit Zitat)\nBERLIN (dpa) - Die Regierung berät über die Hilfe für die Ukraine."
    assert sentences(text) == ["(neu: mit Zitat)", "BERLIN (dpa) - Die Regierung berät über die Hilfe für die Ukraine."]


def test_hard_wrapped_prose_is_joined() -> None:
    text = (
        "Die Vereinigten Staaten werden keine Truppen in die\n"
        "Ukraine schicken, eine militärische Eskalation wollen\n"
        "sie unbedingt verhindern. Biden kündigte Sanktionen an.\n"
    )
    assert sentences(text) == [
        "Die Vereinigten Staaten werden keine Truppen in die\nUkraine schicken, eine militärische "
        "Eskalation wollen\nsie unbedingt verhindern.",
        "Biden kündigte Sanktionen an.",
    ]


def test_blocks_split_at_blank_lines_only_for_prose() -> None:
    text = "Eins ist lang genug, um kein Titel zu sein, und geht weiter\nin der Zeile.\n\n\nZwei."
    assert [text[s:e] for s, e in split_blocks(text)] == [
        "Eins ist lang genug, um kein Titel zu sein, und geht weiter\nin der Zeile.\n",
        "Zwei.",
    ]


def test_empty_and_blank_text() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t\n ") == []


# --- the seed articles: spots a naive splitter gets wrong ---------------------------------


def test_seed_000_dates_quotes_and_sign_off() -> None:
    found = seed_sentences("000")
    assert "In der kommenden Woche - am 9. und 10. Januar - sind Gespräche der USA mit Russland in Genf geplant." in found
    assert found.index("Er dankte Biden \"für die unerschütterliche Unterstützung\".") == (
        found.index(
            'Er habe mit Biden die "gemeinsamen Aktionen der Ukraine, der USA und Partner für den Erhalt des '
            'Friedens in Europa" sowie Schritte zur Deeskalation besprochen, teilte Selenskyj im '
            "Kurznachrichtendienst Twitter mit."
        )
        + 1
    )
    assert (
        "Mehr als 13 000 Menschen sind nach UN-Schätzungen im Donbass seit 2014 bei Kämpfen zwischen "
        "ukrainischen Regierungstruppen und den von Russland unterstützten Separatisten getötet worden."
    ) in found
    assert found[0] == "(neu: Weitere Aussagen von Selenskyj und Biden sowie Hintergrund zu Sicherheitsgesprächen)"
    assert found[-2].endswith('Beziehungen" führen.')
    assert found[-1] == "/mau/DP/mis"
    assert len(found) == 36  # checked by hand


def test_seed_001_guillemets_stray_spaces_and_list_number() -> None:
    found = seed_sentences("001")
    assert "Der Nato-Beitritt »ist ein Prozess, der einige Zeit braucht«, sagte Biden." in found
    assert any(s.endswith("so wie sie die USA derzeit schon Israel gegenüber leisten .") for s in found)
    assert any(s.startswith("Auch aus deutschen Regierungskreisen hieß es") for s in found)
    assert "Der Philosoph befürchtet, dass Russland »verschwindet« ." in found
    assert "2. Wie Erdoğan die Nato gegen die EU ausspielt" in found
    assert "Lesen Sie hier mehr: So sieht Bidens Plan für die Ukraine aus" in found
    assert len(found) == 26


def test_seed_002_questions_quotes_and_headings() -> None:
    found = seed_sentences("002")
    assert "Dies ist der globale Kampf der Systeme im 21. Jahrhundert." in found
    assert '"Niemand will einen Atomkrieg mit Russland um die Ukraine riskieren."' in found
    assert "US-Amerikaner wollen keinen Krieg" in found
    assert "Kampf der Systeme" in found
    assert "Würde dies Bidens klare Haltung verändern?" in found
    assert "Die Stimmung in der US-Bevölkerung?" in found
    assert any(s.startswith("Im Juli 2021 waren etwa 150 US-Soldaten") for s in found)
    assert len(found) == 58


def test_seed_003_byline_caption_and_subheadings() -> None:
    found = seed_sentences("003")
    assert found[:4] == [
        "Beratungen in Paris Koalition der Willigen ringt um Militärhilfe für Ukraine",
        "Von dpa Aktualisiert am 04.09.2025 - 14:07 Uhr Lesedauer: 4 Min.",
        "Die Unterstützung durch die USA ist Voraussetzung für alle Sicherheitsgarantien für die Ukraine.",
        "(Quelle: Ludovic Marin/Pool AFP/AP/dpa/dpa-bilder)",
    ]
    assert "Macron: Konzept für Sicherheitsgarantien steht" in found
    assert "Zusagen aus Washington lassen auf sich warten" in found
    assert len(found) == 27


# --- properties over random text ----------------------------------------------------------

PIECES = [
    " ", "  ", "\n", "\n\n", "\r\n", "\r", "\t", "\u00a0", "\u2028", "\x0b", ". ", "! ", "? ", "…",
    "...", "z. B.", "u. a.", "Nr.", "Dr.", "etc.", "Mio.", "9.", "21.", "2022.", "13 000", "2.5",
    "»", "«", "„", "“", '"', "'", "(", ")", "J.", "Er", "Die", "mit", "Januar", "/mau/DP", "# ",
    "- ", "2. ", "ß", "Ü", "😀", "\u0301", "Ⅻ",
]
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=4)), max_size=40).map("".join)


def check_spans(text: str, spans: list[tuple[int, int]]) -> None:
    covered = [False] * len(text)
    previous_end = 0
    for start, end in spans:
        assert previous_end <= start < end <= len(text)
        assert not text[start].isspace() and not text[end - 1].isspace()
        assert re.search(r"\n[^\S\n]*\n", text[start:end]) is None, "a sentence crosses a blank line"
        for i in range(start, end):
            covered[i] = True
        previous_end = end
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


@settings(max_examples=300, deadline=None)
@given(texts)
def test_spans_are_exact_ordered_and_cover_all_text(text: str) -> None:
    check_spans(text, split_sentences(text))


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_spans_on_arbitrary_unicode(text: str) -> None:
    check_spans(text, split_sentences(text))


def test_seeds_satisfy_span_properties() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        check_spans(text, split_sentences(text))
