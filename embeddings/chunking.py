"""Documents become chunks of whole sentences, each pointing at its exact characters."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from embeddings.documents import BODY_START, Document
from embeddings.sentences import split_sentences
from embeddings.errors import QAError

Span = tuple[int, int]
TokenCounter = Callable[[str], int]

# A headline or sub-heading: one whole line without final punctuation.
_HEADING_MAX_CHARS = 200
_SENTENCE_FINAL = ".!?…:;"
_CLOSERS = "\"'»«“”‘’)]"
_WORD = re.compile(r"\S+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """A run of whole sentences. ``doc.text[start:end] == text`` always.

    ``sentences`` holds the (start, end) document offsets of each sentence in the chunk,
    so an answer can cite the exact sentence it came from.
    """

    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = ()


def estimate_tokens(text: str) -> int:
    """A cautious stand-in for a tokenizer: one token per 3 characters.

    The XLM-R tokenizer of multilingual-e5 averages 4.4 characters per token on the seed
    articles, so this over-counts German prose by about a third and chunks stay inside the
    model's window. Pass the embedder's real ``count_tokens`` for exact budgets.
    """
    return math.ceil(len(text) / 3)


def chunk_document(
    doc: Document,
    *,
    max_tokens: int = 200,
    overlap: int = 1,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """Greedy chunks of whole sentences, each at most ``max_tokens`` by ``count_tokens``.

    ``overlap`` trailing sentences of a chunk open the next one (fewer when they would
    not leave room for a new sentence, and never the whole previous chunk), so every
    chunk adds at least one new sentence. A sentence longer than ``max_tokens`` is cut at
    word boundaries (inside a word only if one word alone is too long) into pieces that
    fit; the pieces then count as sentences. ``count_tokens`` gets the chunk text; an
    embedder's counter should include its prompt ("passage: ") and special tokens, as
    ``Embedder.count_tokens`` does. Without one, ``estimate_tokens`` is used.

    Chunks may run across paragraph breaks, since short news paragraphs alone make thin
    chunks, but a heading (a whole line without final punctuation, such as a headline or
    a sub-heading) always opens a new chunk and is never preceded by overlap, so it
    stands in front of the text it introduces, not at the tail of the previous section.
    """
    _check_options(max_tokens=max_tokens, overlap=overlap)
    count = estimate_tokens if count_tokens is None else count_tokens
    text = doc.text
    body = body_start(doc)   # header lines and front matter are not chunked
    units: list[Span] = []
    for start, end in split_sentences(text[body:]):
        units.extend(_fit_pieces(text, body + start, body + end, max_tokens=max_tokens, count=count))
    headings = [_is_heading(text, start, end) for start, end in units]

    def fits(first: int, last: int) -> bool:
        return count(text[units[first][0]:units[last][1]]) <= max_tokens

    chunks: list[Chunk] = []
    first = 0  # first unit of the chunk being built
    new = 0  # first unit the previous chunk did not hold
    while new < len(units):
        if headings[new] and not all(headings[first:new]):
            first = new  # no overlap in front of a heading
        while first < new and not fits(first, new):
            first += 1  # drop overlap until the first new unit fits
        last = new
        while last + 1 < len(units) and fits(first, last + 1):
            if headings[last + 1] and not all(headings[first:last + 1]):
                break  # a heading opens the next chunk
            last += 1
        start, end = units[first][0], units[last][1]
        chunks.append(Chunk(doc.doc_id, start, end, text[start:end], tuple(units[first:last + 1])))
        new = last + 1
        first = max(new - overlap, first + 1)
    return chunks


def body_start(doc: Document) -> int:
    """Where ``doc``'s chunks may begin: after its header lines and Markdown front matter
    (the loader's ``body_start``), else 0."""
    try:
        start = int(doc.metadata.get(BODY_START, 0))
    except (TypeError, ValueError):
        return 0
    return start if 0 <= start < len(doc.text) else 0


def chunk_documents(
    docs: Iterable[Document],
    *,
    max_tokens: int = 200,
    overlap: int = 1,
    count_tokens: TokenCounter | None = None,
) -> list[Chunk]:
    """``chunk_document`` over several documents, in order."""
    _check_options(max_tokens=max_tokens, overlap=overlap)
    return [
        chunk
        for doc in docs
        for chunk in chunk_document(doc, max_tokens=max_tokens, overlap=overlap, count_tokens=count_tokens)
    ]


def _check_options(*, max_tokens: int, overlap: int) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise QAError(
            f"chunk token budget must be a whole number of at least 1, got {max_tokens!r}; "
            "set chunk_tokens (QA_CHUNK_TOKENS) to e.g. 200"
        )
    if isinstance(overlap, bool) or not isinstance(overlap, int) or overlap < 0:
        raise QAError(
            f"chunk overlap must be a whole number of sentences, 0 or more, got {overlap!r}; "
            "set chunk_overlap (QA_CHUNK_OVERLAP) to e.g. 1"
        )


def _fit_pieces(text: str, start: int, end: int, *, max_tokens: int, count: TokenCounter) -> list[Span]:
    """The sentence ``text[start:end]`` as one span, or cut into pieces that fit."""
    if count(text[start:end]) <= max_tokens:
        return [(start, end)]
    words = [(m.start(), m.end()) for m in _WORD.finditer(text, start, end)]
    pieces: list[Span] = []
    i = 0
    while i < len(words):
        if count(text[words[i][0]:words[i][1]]) > max_tokens:
            pieces.extend(_cut_word(text, *words[i], max_tokens=max_tokens, count=count))
            i += 1
            continue
        # The most words from i on that still fit: gallop, then bisect (counts grow with
        # text), so a huge unpunctuated sentence costs about its length, not its square.
        low, step = i, 1
        while low + step < len(words) and count(text[words[i][0]:words[low + step][1]]) <= max_tokens:
            low, step = low + step, step * 2
        high = min(low + step, len(words)) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[words[i][0]:words[middle][1]]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        pieces.append((words[i][0], words[low][1]))
        i = low + 1
    return pieces


def _cut_word(text: str, start: int, end: int, *, max_tokens: int, count: TokenCounter) -> list[Span]:
    """A single over-long word cut into the longest character runs that fit (at least one)."""
    pieces: list[Span] = []
    while start < end:
        low, step = start + 1, 1
        while low + step <= end and count(text[start:low + step]) <= max_tokens:
            low, step = low + step, step * 2
        high = min(low + step, end + 1) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if count(text[start:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        pieces.append((start, low))
        start = low
    return pieces


def _is_heading(text: str, start: int, end: int) -> bool:
    """A whole line of its own, not too long, without final punctuation."""
    if end - start > _HEADING_MAX_CHARS or text[start:end].rstrip(_CLOSERS)[-1:] in ("", *_SENTENCE_FINAL):
        return False
    before, after = start, end
    while before > 0 and text[before - 1] != "\n" and text[before - 1].isspace():
        before -= 1
    while after < len(text) and text[after] != "\n" and text[after].isspace():
        after += 1
    return (before == 0 or text[before - 1] == "\n") and (after == len(text) or text[after] == "\n")
