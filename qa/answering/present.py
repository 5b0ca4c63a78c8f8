"""What to show of a Response (the best answer, close alternatives, numbered citations) and
the one JSON shape every surface returns for it (``qa ask --json``, the /ask API).

Rendering that view as chat Markdown or HTML is the web's job (qa/web/render.py); the text of
``qa ask`` is the command's (qa/commands/ask.py). Both start from :func:`present`.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from embeddings.formats import HIDDEN_METADATA, page_label
from qa.answering.question import detect_language
from qa.types import Answer, Hit, Response

# An alternative answer is shown when its score is at least this share of the best one's:
# readers' scores fall off steeply, so half the top score still means "a real contender".
ALTERNATIVE_SCORE_RATIO = 0.5
MAX_ALTERNATIVES = 2
CLOSEST_PASSAGES = 3

NO_ANSWER = {
    "de": "Dazu finde ich in den Artikeln keine Antwort.",
    "en": "I can't find an answer to that in the articles.",
}

@dataclass(frozen=True, slots=True)
class Citation:
    """A numbered passage: [number] in the chat, one card in the source inspector."""

    number: int
    hit: Hit


@dataclass(frozen=True, slots=True)
class AnswerView:
    """What the chat shows for one response: the main answer (None when abstaining), close
    alternatives, and the citations they point to (for an abstention: the closest passages)."""

    response: Response
    language: str
    answer: Answer | None
    alternatives: tuple[Answer, ...]
    citations: tuple[Citation, ...]
    question: str = ""

    @property
    def abstained(self) -> bool:
        return self.answer is None

    @property
    def shown_answers(self) -> tuple[Answer, ...]:
        return () if self.answer is None else (self.answer, *self.alternatives)

    def citation_for(self, answer: Answer) -> Citation:
        key = hit_key(answer.hit)
        return next(c for c in self.citations if hit_key(c.hit) == key)


def hit_key(hit: Hit) -> tuple[str, int, int]:
    return (hit.chunk.doc_id, hit.chunk.start, hit.chunk.end)


def same_text(a: str, b: str) -> bool:
    return " ".join(a.lower().split()) == " ".join(b.lower().split())


def present(
    response: Response,
    *,
    question: str | None = None,
    threshold: float = 0.0,
    max_alternatives: int = MAX_ALTERNATIVES,
    alternative_ratio: float = ALTERNATIVE_SCORE_RATIO,
) -> AnswerView:
    """Choose what to show: answers scoring below ``threshold`` are dropped (abstain when none
    is left), up to ``max_alternatives`` close runners-up, citations numbered in order of
    first use."""
    question = response.question if question is None else question
    language = detect_language(question)
    answers = [] if response.abstained else [a for a in response.answers if a.score >= threshold]
    if not answers:
        citations = tuple(
            Citation(i, hit) for i, hit in enumerate(response.hits[:CLOSEST_PASSAGES], start=1)
        )
        return AnswerView(response, language, None, (), citations, question)
    best, alternatives = answers[0], []
    for candidate in answers[1:]:
        if len(alternatives) >= max_alternatives:
            break
        if candidate.score < best.score * alternative_ratio:
            continue
        if any(same_text(candidate.text, a.text) for a in (best, *alternatives)):
            continue
        alternatives.append(candidate)
    citations: list[Citation] = []
    for answer in (best, *alternatives):
        if all(hit_key(c.hit) != hit_key(answer.hit) for c in citations):
            citations.append(Citation(len(citations) + 1, answer.hit))
    return AnswerView(response, language, best, tuple(alternatives), tuple(citations), question)


def pages_of(hit: Hit, language: str = "en") -> str | None:
    """"page 3" / "Seite 3" for a passage of a PDF (from its page map), else None."""
    label = page_label(hit, hit.chunk.start, hit.chunk.end)  # reads hit.metadata["page_starts"]
    if label is None or language != "de":
        return label
    return label.replace("pages", "Seiten").replace("page", "Seite")


# --------------------------------------------------------------------------- JSON


def answer_json(answer: Answer, citation: int) -> dict[str, object]:
    """An answer with its exact document offsets, its sentence and its citation number."""
    data: dict[str, object] = {f.name: getattr(answer, f.name) for f in fields(Answer) if f.name != "hit"}
    data["passage_start"], data["passage_end"] = answer.passage_start, answer.passage_end
    data["citation"] = citation
    return data


def hit_json(hit: Hit) -> dict[str, object]:
    """A retrieved passage: rank, scores, document, visible metadata, offsets and text."""
    data: dict[str, object] = {
        "rank": hit.rank, "score": hit.score, "doc_id": hit.doc_id, "title": hit.title,
        "metadata": {k: v for k, v in (hit.metadata or {}).items() if k not in HIDDEN_METADATA},
        "pages": pages_of(hit), "start": hit.chunk.start, "end": hit.chunk.end, "text": hit.chunk.text,
    }
    if hit.dense_score is not None:
        data["dense_score"] = hit.dense_score
    return data


def citation_json(citation: Citation) -> dict[str, object]:
    data = hit_json(citation.hit)
    return {"number": citation.number, **data}


def response_json(view: AnswerView) -> dict[str, object]:
    """The one JSON shape of an answer, for ``qa ask --json`` and the /ask API: what was asked
    and understood, the tier and confidence, the shown answers (each with its citation
    number), the cited passages and every retrieved passage."""
    return {
        "question": view.question,
        "retrieval_query": view.response.retrieval_query or view.question,
        "language": view.language,
        "abstained": view.abstained,
        "tier": "none" if view.abstained else view.response.tier,
        "confidence": view.response.confidence,
        "message": NO_ANSWER[view.language] if view.abstained else view.answer.text,  # type: ignore[union-attr]
        "reader": view.response.reader,
        "unmentioned": list(view.response.unmentioned) if view.abstained else [],
        "answers": [answer_json(a, view.citation_for(a).number) for a in view.shown_answers],
        "citations": [citation_json(c) for c in view.citations],
        "passages": [hit_json(h) for h in view.response.hits],
    }
