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
        "title_source": "first_sentence",
    }


def test_seed_001_teaser_title_and_no_metadata(seeds: dict[str, Document]) -> None:
    doc = seeds["001"]
    assert doc.title == (
        "Bidens Streubomben-Ankündigung dürfte nur ein Zwischenschritt sein, um den Russen "
        "weiterhin etwas entgegensetzen zu können"
    )
    assert dict(doc.metadata) == {"title_source": "first_sentence"}


def test_seed_002_teaser_title_and_no_metadata(seeds: dict[str, Document]) -> None:
    doc = seeds["002"]
    assert doc.title == (
        "Die Haltung der USA, und damit auch der NATO, ist klar: nur keinen direkten bewaffneten "
        "Konflikt mit russischen Truppen riskieren"
    )
    assert dict(doc.metadata) == {"title_source": "first_sentence"}


def test_seed_003_headline_and_dpa_byline(seeds: dict[str, Document]) -> None:
    doc = seeds["003"]
    assert doc.title == "Beratungen in Paris Koalition der Willigen ringt um Militärhilfe für Ukraine"
    assert dict(doc.metadata) == {
        "author": "dpa",
        "outlet": "dpa",
        "date": "2025-09-04",
        "time": "14:07",
        "reading_time": "4 Min.",
        "title_source": "heading",
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
    assert dict(doc.metadata) == {"note": "neu: nur eine Notiz", "title_source": "file_name"}


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
    metadata = dict(load_document(write(tmp_path, "x.txt", text)).metadata)
    assert metadata.pop("title_source") in ("heading", "first_sentence")
    assert metadata == expected


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


# --- header lines: the article's own metadata at its very top ------------------------------


HEADED = (
    "URL: https://www.example.de/politik/nato-gipfel-101.html\n"
    "Titel:   Nato-Gipfel\tin Vilnius  \n"
    "Medium: Beispiel-Zeitung\n"
    "Datum: 11.07.2023\n"
    "Autorin: Anna Muster\n"
    "\n"
    "VILNIUS (dpa) - Die Allianz berät über die Ukraine. Mehr folgt.\n"
)


def test_header_lines_give_link_title_outlet_date_and_author(tmp_path: Path) -> None:
    doc = load_document(write(tmp_path, "h.txt", HEADED))
    assert doc.title == "Nato-Gipfel in Vilnius"
    assert dict(doc.metadata) == {
        "url": "https://www.example.de/politik/nato-gipfel-101.html",
        "outlet": "Beispiel-Zeitung",      # the header line wins over the dateline's agency
        "place": "VILNIUS",                # what the head lines say is still read
        "date": "2023-07-11",
        "author": "Anna Muster",
        "title_source": "header",
        "body_start": str(HEADED.index("\nVILNIUS")),  # the passages begin after the header lines
    }
    assert doc.text == HEADED              # the header stays in the text: offsets are into the file


def test_without_a_title_header_the_headline_skips_the_header_lines(tmp_path: Path) -> None:
    text = "link: https://example.org/a?b=1\nQuelle: dpa\n\nDie Allianz berät über die Ukraine. Mehr folgt.\n"
    doc = load_document(write(tmp_path, "h.txt", text))
    assert doc.title == "Die Allianz berät über die Ukraine"
    assert dict(doc.metadata) == {"url": "https://example.org/a?b=1", "outlet": "dpa",
                                  "title_source": "first_sentence", "body_start": str(text.index("\nDie"))}
    source = load_document(write(tmp_path, "s.txt", "Quelle: https://example.org/b\n\nText.\n"))
    assert source.metadata["url"] == "https://example.org/b" and "outlet" not in source.metadata


@pytest.mark.parametrize("text, title, source", [
    ("Gipfel in Vilnius\n\nDie Allianz berät. Mehr folgt.\n", "Gipfel in Vilnius", "heading"),
    ("Wie weit geht Europa?\n\nDie Allianz berät.\n", "Wie weit geht Europa?", "heading"),
    ("Die Allianz berät.\n\nMehr folgt.\n", "Die Allianz berät", "first_sentence"),
    ("Die Allianz berät. Mehr folgt.\n", "Die Allianz berät", "first_sentence"),
    ("Die Allianz berät\nüber die Ukraine.\n", "Die Allianz berät", "first_sentence"),
    ("BERLIN (dpa) - Die Regierung berät\n\nText.\n", "Die Regierung berät", "first_sentence"),
])
def test_title_source_tells_a_headline_from_a_first_sentence(tmp_path: Path, text: str, title: str,
                                                            source: str) -> None:
    doc = load_document(write(tmp_path, "t.txt", text))
    assert (doc.title, doc.metadata["title_source"]) == (title, source)


def test_markdown_front_matter_and_heading_sources(tmp_path: Path) -> None:
    front = load_document(write(tmp_path, "f.md", "---\ntitle: 'Gipfel'\nurl: https://example.org/g\n"
                                "date: 2023-07-11\ntags: [nato]\n---\n\n# Andere Überschrift\n\nText.\n"))
    assert front.title == "Gipfel"
    assert dict(front.metadata) == {"url": "https://example.org/g", "date": "2023-07-11", "title_source": "header",
                                    "body_start": str(front.text.index("\n# Andere"))}  # after the front matter
    heading = load_document(write(tmp_path, "h.md", "url: https://example.org/h\n\n# Gipfel in Vilnius\n\nText.\n"))
    assert (heading.title, heading.metadata["title_source"]) == ("Gipfel in Vilnius", "heading")
    assert heading.metadata["url"] == "https://example.org/h"


@pytest.mark.parametrize("text", [
    # not at the very top: a line of the story, never metadata
    "Gipfel in Vilnius\nurl: https://example.org/a\n\nText.\n",
    "Gipfel in Vilnius\n\nText über den Gipfel.\n\nLink: https://example.org/a\nTitel: Falsch\n",
    "Die Allianz berät. Quelle: https://example.org/a\n",
    # not an absolute http(s) link
    "url: javascript:alert(document.cookie)\n\nText.\n",
    "url: data:text/html;base64,PHNjcmlwdD4=\n\nText.\n",
    "url: /politik/nato-101.html\n\nText.\n",
    "url: //example.org/a\n\nText.\n",
    "url: https://bank.example@evil.example/login\n\nText.\n",
    "url: https://example.org/a b\n\nText.\n",
    "url: https://example.org/<script>\n\nText.\n",
    "url: https://example.org/" + "a" * 5000 + "\n\nText.\n",
    "url: ftp://example.org/a\n\nText.\n",
])
def test_no_link_from_a_body_line_or_a_hostile_value(tmp_path: Path, text: str) -> None:
    doc = load_document(write(tmp_path, "x.txt", text))
    assert "url" not in doc.metadata
    assert doc.title in ("Gipfel in Vilnius", "Text", "Die Allianz berät")
    assert doc.text == text


def test_bad_header_values_are_dropped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = "url: javascript:alert(1)\nDatum: 31.02.2025\ndate: gestern\n\nText.\n"
    with caplog.at_level(logging.WARNING, logger="embeddings.documents"):
        doc = load_document(write(tmp_path, "bad.txt", text))
    assert dict(doc.metadata) == {"title_source": "first_sentence", "body_start": str(text.index("\nText"))}
    messages = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(messages) == 3 and all(m.startswith(f"ignoring {tmp_path / 'bad.txt'}: header line") for m in messages)
    assert "not an absolute http(s) link" in messages[0]
    assert all("not a date" in m for m in messages[1:])


@pytest.mark.parametrize("value, date", [
    ("2025-09-04", "2025-09-04"), ("2025-09-04T14:07:00+02:00", "2025-09-04"), ("4.9.2025", "2025-09-04"),
    ("04.09.2025 - 14:07 Uhr", "2025-09-04"), ("2025-13-01", None), ("04.09.25", None), ("2025", None),
])
def test_header_dates(tmp_path: Path, value: str, date: str | None) -> None:
    doc = load_document(write(tmp_path, "d.txt", f"Datum: {value}\n\nText.\n"))
    assert doc.metadata.get("date") == date


def test_huge_header_values_are_capped_and_whitespace_normalised(tmp_path: Path) -> None:
    words = " ".join(f"Wort{i}" for i in range(200_000))
    text = f"Titel: {words}\nMedium: {'x' * 100_000}\nAutor:\t Anna \t Muster \n\nText.\n"
    doc = load_document(write(tmp_path, "big.txt", text))
    assert doc.title.endswith(" …") and len(doc.title) <= TITLE_MAX_CHARS + 2
    assert words.startswith(doc.title.removesuffix(" …") + " ")
    assert len(doc.metadata["outlet"]) <= 82 and doc.metadata["author"] == "Anna Muster"


def test_header_lines_and_front_matter_are_no_passage(tmp_path: Path) -> None:
    """The chunks start after the header lines (or front matter): a passage never opens with
    "URL: https://…"; the lines stay in the text, and an article of header lines only is
    chunked whole rather than left without a passage."""
    from embeddings.chunking import chunk_document

    for name, text in (("h.txt", HEADED),
                       ("f.md", "---\ntitle: Gipfel\n---\nQuelle: dpa\n\n# Gipfel\n\nDie Allianz berät.\n")):
        doc = load_document(write(tmp_path, name, text))
        chunks = chunk_document(doc, max_tokens=40, overlap=0)
        assert chunks and chunks[0].start == len(text) - len(text[int(doc.metadata["body_start"]):].lstrip())
        assert all(doc.text[c.start:c.end] == c.text and "Quelle:" not in c.text and "Link:" not in c.text
                   for c in chunks)
    only = load_document(write(tmp_path, "o.txt", "Titel: Nur ein Kopf\nQuelle: dpa\n"))
    assert "body_start" not in only.metadata and chunk_document(only)[0].start == 0
    plain = load_document(write(tmp_path, "p.txt", "Gipfel\n\nDie Allianz berät.\n"))
    assert "body_start" not in plain.metadata and chunk_document(plain)[0].start == 0


def test_a_story_that_starts_like_a_header_is_still_the_story(tmp_path: Path) -> None:
    # Only known keys make a header line: "Fazit:" and "Kiew:" begin the story.
    for first in ("Fazit: Die Allianz berät.", "Kiew: Die Lage ist ernst."):
        doc = load_document(write(tmp_path, "s.txt", f"{first}\n\nText.\n"))
        assert doc.metadata["title_source"] == "first_sentence"
        assert doc.title == first.removesuffix(".")
