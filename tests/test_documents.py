"""Loading articles: encodings, line ends, skipped files, titles and honest metadata."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from embeddings.documents import TITLE_MAX_CHARS, Document, load_corpus, load_document
from embeddings.errors import QAError

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def warnings_about(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and name in r.getMessage()]


# --- the seeds ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> dict[str, Document]:
    return {doc.doc_id[:3]: doc for doc in load_corpus(SEEDS)}


def test_seeds_load_in_file_name_order_with_exact_text(seeds: dict[str, Document]) -> None:
    ids = [doc.doc_id for doc in load_corpus(SEEDS)]
    assert ids == sorted(p.name for p in SEEDS.glob("*.txt"))
    for doc in seeds.values():
        assert doc.text == (SEEDS / doc.doc_id).read_text(encoding="utf-8")


def test_seed_000_dpa_afx_dateline(seeds: dict[str, Document]) -> None:
    doc = seeds["000"]
    assert doc.title == (
        "US-Präsident Joe Biden hat seinem ukrainischen Kollegen Wolodymyr Selenskyj im Konflikt "
        "mit Russland Unterstützung zugesichert"
    )
    assert dict(doc.metadata) == {
        "note": "neu: Weitere Aussagen von Selenskyj und Biden sowie Hintergrund zu Sicherheitsgesprächen",
        "place": "WASHINGTON/KIEW",
        "outlet": "dpa-AFX",
    }


def test_seed_001_teaser_title_and_no_metadata(seeds: dict[str, Document]) -> None:
    doc = seeds["001"]
    assert doc.title == (
        "Bidens Streubomben-Ankündigung dürfte nur ein Zwischenschritt sein, um den Russen "
        "weiterhin etwas entgegensetzen zu können"
    )
    assert dict(doc.metadata) == {}


def test_seed_002_teaser_title_and_no_metadata(seeds: dict[str, Document]) -> None:
    doc = seeds["002"]
    assert doc.title == (
        "Die Haltung der USA, und damit auch der NATO, ist klar: nur keinen direkten bewaffneten "
        "Konflikt mit russischen Truppen riskieren"
    )
    assert dict(doc.metadata) == {}


def test_seed_003_headline_and_dpa_byline(seeds: dict[str, Document]) -> None:
    doc = seeds["003"]
    assert doc.title == "Beratungen in Paris Koalition der Willigen ringt um Militärhilfe für Ukraine"
    assert dict(doc.metadata) == {
        "author": "dpa",
        "outlet": "dpa",
        "date": "2025-09-04",
        "time": "14:07",
        "reading_time": "4 Min.",
    }


def test_seed_titles_are_copied_from_the_text(seeds: dict[str, Document]) -> None:
    for doc in seeds.values():
        assert doc.title in doc.text


# --- encodings and line ends -------------------------------------------------------------


def test_bom_and_windows_line_ends_are_normalised(tmp_path: Path) -> None:
    path = write(tmp_path, "a.txt", b"\xef\xbb\xbfTitel der Meldung\r\n\r\nErster Satz.\r\nZweiter.\rDritter.\r\n")
    doc = load_document(path)
    assert doc.text == "Titel der Meldung\n\nErster Satz.\nZweiter.\nDritter.\n"
    assert doc.title == "Titel der Meldung"
    assert doc.doc_id == "a.txt"


def test_utf16_with_bom_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "w.txt", "Grüße aus Kiew\r\n\r\nText.".encode("utf-16"))
    assert load_document(path).text == "Grüße aus Kiew\n\nText."


def test_markdown_heading_becomes_the_title(tmp_path: Path) -> None:
    path = write(tmp_path, "m.md", "# Nato-Gipfel in Vilnius #\n\nDie Allianz berät. Mehr folgt.\n")
    assert load_document(path).title == "Nato-Gipfel in Vilnius"


def test_markdown_front_matter_title_wins(tmp_path: Path) -> None:
    path = write(tmp_path, "f.md", "---\ntitle: \"Gipfel in Vilnius\"\nlang: de\n---\n\nDie Allianz berät.\n")
    doc = load_document(path)
    assert doc.title == "Gipfel in Vilnius"
    assert doc.text.startswith("---\n")  # the text stays as published: offsets are into it


def test_markdown_setext_heading(tmp_path: Path) -> None:
    path = write(tmp_path, "s.md", "Gipfel in Vilnius\n=================\n\nDie Allianz berät.\n")
    assert load_document(path).title == "Gipfel in Vilnius"


def test_long_first_sentence_is_shortened_at_a_word_without_new_words(tmp_path: Path) -> None:
    sentence = " ".join(f"Wort{i}" for i in range(60)) + "."
    path = write(tmp_path, "long.txt", sentence + " Zweiter Satz.")
    title = load_document(path).title
    assert title.endswith(" …") and len(title) <= TITLE_MAX_CHARS + 2
    assert sentence.startswith(title.removesuffix(" …") + " ")


def test_file_name_is_the_title_of_last_resort(tmp_path: Path) -> None:
    path = write(tmp_path, "notiz.txt", "(neu: nur eine Notiz)\n")
    doc = load_document(path)
    assert doc.title == "notiz"
    assert dict(doc.metadata) == {"note": "neu: nur eine Notiz"}


# --- metadata must never be wrong ---------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("BERLIN (dpa) - Die Regierung berät.", {"place": "BERLIN", "outlet": "dpa"}),
        ("Kiew/Moskau (AFP) – Die Lage ist ernst.", {"place": "Kiew/Moskau", "outlet": "AFP"}),
        ("Frankfurt am Main (dpa/AFP) - Die Börse schloss.", {"place": "Frankfurt am Main", "outlet": "dpa/AFP"}),
        ("(neu: mit Zitat)\nBERLIN (Reuters) - Die Regierung berät.",
         {"note": "neu: mit Zitat", "place": "BERLIN", "outlet": "Reuters"}),
        ("Die Organisation (OSZE) - so hieß es - tagt.", {}),
        ("Von Anna Muster und Jan Beispiel am 03.07.2023\n\nText.", {"author": "Anna Muster und Jan Beispiel", "date": "2023-07-03"}),
        ("Von Kiew aus fuhr er am 05.05.2022 los.", {}),
        ("am 24.02.2022 marschierte Russland ein.", {}),
        ("Aktualisiert am 31.02.2025\n\nText.", {}),
        ("Veröffentlicht am 1.3.2024 - 9:05 Uhr\n\nText.", {"date": "2024-03-01", "time": "9:05"}),
        ("Titel\n\nText.\n\nText.\n\nText.\n\nAktualisiert am 04.09.2025", {}),
    ],
)
def test_metadata_comes_only_from_clear_head_lines(tmp_path: Path, text: str, expected: dict) -> None:
    assert dict(load_document(write(tmp_path, "x.txt", text)).metadata) == expected


# --- skipped files ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "empty"),
        ("blank.txt", b" \r\n\t\n", "empty"),
        ("binary.txt", b"PK\x03\x04\x00\x00binary", "binary"),
        ("latin1.txt", "Erste Zeile\nGrüße".encode("latin-1"), "latin1.txt:2: not valid UTF-8"),
        ("huge.txt", b"x" * 101, "too large"),
        ("scan.pdf", b"%PDF-1.4", "unsupported"),
    ],
)
def test_unusable_files_are_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, name: str, data: bytes, reason: str
) -> None:
    write(tmp_path, "good.txt", "Eine Meldung.\n")
    write(tmp_path, name, data)
    with caplog.at_level(logging.DEBUG, logger="embeddings.documents"):
        docs = load_corpus(tmp_path, max_bytes=100)
    assert [d.doc_id for d in docs] == ["good.txt"]
    messages = warnings_about(caplog, name)
    assert len(messages) == 1 and reason in messages[0]
    with pytest.raises(QAError, match=reason.split(":")[-1].strip()):
        load_document(tmp_path / name, max_bytes=100)


def test_hidden_files_and_folders_are_ignored_quietly(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "b.txt", "Zwei.")
    write(tmp_path, "a.md", "Eins.")
    write(tmp_path, ".hidden.txt", "Versteckt.")
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "c.txt", "Drei.")
    with caplog.at_level(logging.WARNING):
        docs = load_corpus(tmp_path)
    assert [d.doc_id for d in docs] == ["a.md", "b.txt"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_single_file_is_a_corpus(tmp_path: Path) -> None:
    path = write(tmp_path, "one.txt", "Eine Meldung.")
    assert [d.doc_id for d in load_corpus(path)] == ["one.txt"]
    with pytest.raises(QAError, match="empty"):
        load_corpus(write(tmp_path, "none.txt", ""))


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="does not exist"):
        load_corpus(tmp_path / "nowhere")


def test_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="no usable article"):
        load_corpus(tmp_path)


def test_folder_of_only_unusable_files_is_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write(tmp_path, "empty.txt", "")
    write(tmp_path, "data.bin", b"\x00\x01")
    with caplog.at_level(logging.WARNING), pytest.raises(QAError, match="no usable article"):
        load_corpus(tmp_path)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 2
