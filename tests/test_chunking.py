"""Chunking: exact document offsets, token budgets, overlap, headings, long sentences."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embeddings.chunking import Chunk, chunk_document, chunk_documents, estimate_tokens
from embeddings.documents import Document, load_corpus
from embeddings.sentences import split_sentences
from embeddings.errors import QAError

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


def doc(text: str, doc_id: str = "d.txt") -> Document:
    return Document(doc_id=doc_id, title="t", text=text)


def words(text: str) -> int:
    return len(text.split())


def check_chunks(document: Document, chunks: list[Chunk], *, max_tokens: int, count=estimate_tokens) -> None:
    """The invariants every chunking must keep."""
    text = document.text
    covered = [False] * len(text)
    previous: Chunk | None = None
    for chunk in chunks:
        assert chunk.doc_id == document.doc_id
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.sentences and chunk.sentences[0][0] == chunk.start and chunk.sentences[-1][1] == chunk.end
        assert count(chunk.text) <= max_tokens
        for (start, end), following in zip(chunk.sentences, chunk.sentences[1:] + ((len(text) + 1, 0),)):
            assert chunk.start <= start < end <= chunk.end and end <= following[0]
            assert not text[start].isspace() and not text[end - 1].isspace()
            for i in range(start, end):
                covered[i] = True
        if previous is not None:
            assert previous.start < chunk.start and previous.end < chunk.end, "chunks must move forward"
            assert chunk.sentences[-1] not in previous.sentences, "every chunk adds a new sentence"
        previous = chunk
    assert all(covered[i] for i, ch in enumerate(text) if not ch.isspace())


# --- seeds --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def seeds() -> list[Document]:
    return load_corpus(SEEDS)


@pytest.mark.parametrize("max_tokens, overlap", [(200, 1), (60, 0), (120, 2), (15, 1), (1000, 3)])
def test_seed_chunks_keep_offsets_and_budget(seeds: list[Document], max_tokens: int, overlap: int) -> None:
    for document in seeds:
        chunks = chunk_document(document, max_tokens=max_tokens, overlap=overlap)
        check_chunks(document, chunks, max_tokens=max_tokens)


def test_seed_chunks_hold_whole_sentences(seeds: list[Document]) -> None:
    for document in seeds:
        sentences = set(split_sentences(document.text))
        for chunk in chunk_document(document):
            assert set(chunk.sentences) <= sentences


def test_seed_answer_sentence_is_whole_in_a_chunk(seeds: list[Document]) -> None:
    (document,) = [d for d in seeds if d.doc_id.startswith("000")]
    sentence = (
        "Mehr als 13 000 Menschen sind nach UN-Schätzungen im Donbass seit 2014 bei Kämpfen zwischen "
        "ukrainischen Regierungstruppen und den von Russland unterstützten Separatisten getötet worden."
    )
    start = document.text.index(sentence)
    holding = [c for c in chunk_document(document) if (start, start + len(sentence)) in c.sentences]
    assert holding and all(sentence in c.text for c in holding)


def test_seed_subheadings_open_chunks(seeds: list[Document]) -> None:
    (document,) = [d for d in seeds if d.doc_id.startswith("003")]
    chunks = chunk_document(document, max_tokens=400, overlap=1)
    for heading in ("Macron: Konzept für Sicherheitsgarantien steht", "Zusagen aus Washington lassen auf sich warten"):
        assert any(c.text.startswith(heading) for c in chunks)
        assert not any(heading in c.text and not c.text.startswith(heading) for c in chunks)


def test_headline_opens_the_first_chunk(seeds: list[Document]) -> None:
    (document,) = [d for d in seeds if d.doc_id.startswith("003")]
    first = chunk_document(document)[0]
    assert first.text.startswith("Beratungen in Paris Koalition der Willigen ringt um Militärhilfe für Ukraine\n\n")


# --- overlap ------------------------------------------------------------------------------

TEN = " ".join(f"Satz Nummer {i} ist hier." for i in range(10))


@pytest.mark.parametrize("overlap", [0, 1, 2])
def test_overlap_repeats_trailing_sentences(overlap: int) -> None:
    chunks = chunk_document(doc(TEN), max_tokens=15, overlap=overlap, count_tokens=words)
    assert [len(c.sentences) for c in chunks][0] == 3
    for previous, chunk in zip(chunks, chunks[1:]):
        shared = [s for s in chunk.sentences if s in previous.sentences]
        assert shared == list(previous.sentences[len(previous.sentences) - overlap:])


def test_overlap_never_repeats_a_whole_chunk() -> None:
    chunks = chunk_document(doc(TEN), max_tokens=10, overlap=5, count_tokens=words)
    for previous, chunk in zip(chunks, chunks[1:]):
        assert chunk.sentences[0] != previous.sentences[0]
        assert chunk.sentences[-1] not in previous.sentences
    assert chunks[-1].end == len(TEN)


def test_overlap_is_dropped_when_it_leaves_no_room() -> None:
    long = "Lang " + " ".join(["lang"] * 8) + "."
    chunks = chunk_document(doc("Eins eins. Zwei zwei. " + long), max_tokens=10, overlap=1, count_tokens=words)
    assert [c.text for c in chunks] == ["Eins eins. Zwei zwei.", long]


# --- long sentences and words -------------------------------------------------------------


def test_long_sentence_is_cut_at_word_boundaries() -> None:
    text = " ".join(f"w{i}" for i in range(23)) + "."
    chunks = chunk_document(doc(text), max_tokens=5, overlap=0, count_tokens=words)
    assert [c.text for c in chunks] == [
        "w0 w1 w2 w3 w4", "w5 w6 w7 w8 w9", "w10 w11 w12 w13 w14", "w15 w16 w17 w18 w19", "w20 w21 w22.",
    ]


def test_long_word_is_cut_into_characters_that_fit() -> None:
    text = "Ein Donaudampfschifffahrtsgesellschaftskapitän kam."
    chunks = chunk_document(doc(text), max_tokens=3, overlap=0)  # 3 tokens = 9 characters
    check_chunks(doc(text), chunks, max_tokens=3)
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


def test_a_counter_that_rejects_everything_still_makes_progress() -> None:
    chunks = chunk_document(doc("Ab cd."), max_tokens=1, overlap=1, count_tokens=lambda t: 99)
    assert [c.text for c in chunks] == ["A", "b", "c", "d", "."]


# --- options and edges --------------------------------------------------------------------


@pytest.mark.parametrize("options", [{"max_tokens": 0}, {"max_tokens": -5}, {"max_tokens": True},
                                     {"max_tokens": 2.5}, {"overlap": -1}, {"overlap": 1.0}])
def test_bad_options_are_a_clear_error(options: dict) -> None:
    with pytest.raises(QAError, match="chunk"):
        chunk_document(doc("Ein Satz."), **options)
    with pytest.raises(QAError, match="chunk"):
        chunk_documents([], **options)


def test_blank_document_has_no_chunks() -> None:
    assert chunk_document(doc(" \n\n ")) == []


def test_chunk_documents_keeps_document_order() -> None:
    docs = [doc("Eins. Zwei.", "a.txt"), doc("Drei.", "b.txt")]
    chunks = chunk_documents(docs, max_tokens=2, overlap=0)
    assert [(c.doc_id, c.text) for c in chunks] == [("a.txt", "Eins."), ("a.txt", "Zwei."), ("b.txt", "Drei.")]


def test_default_estimate_is_a_third_of_the_characters() -> None:
    assert [estimate_tokens(t) for t in ("", "a", "abc", "abcd")] == [0, 1, 1, 2]


# --- properties over random documents -----------------------------------------------------

PIECES = [
    " ", "\n", "\n\n", "\t", "\u00a0", ". ", "! ", "? ", "…", "z. B.", "Nr.", "9.", "13 000", "»", "«",
    "„", "“", '"', "Er", "Die", "Überschrift", "mit", "Donaudampfschifffahrt", "- ", "# ", "😀", "ß",
]
texts = st.lists(st.one_of(st.sampled_from(PIECES), st.text(max_size=6)), max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(texts, st.integers(1, 40), st.integers(0, 4))
def test_chunk_offsets_hold_for_random_text(text: str, max_tokens: int, overlap: int) -> None:
    document = doc(text)
    check_chunks(document, chunk_document(document, max_tokens=max_tokens, overlap=overlap), max_tokens=max_tokens)


@settings(max_examples=100, deadline=None)
@given(texts, st.integers(1, 12), st.integers(0, 3))
def test_chunk_offsets_hold_with_a_word_counter(text: str, max_tokens: int, overlap: int) -> None:
    document = doc(text)
    chunks = chunk_document(document, max_tokens=max_tokens, overlap=overlap, count_tokens=words)
    check_chunks(document, chunks, max_tokens=max_tokens, count=words)
