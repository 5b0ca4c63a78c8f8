"""The chat's HTML and Markdown: answers, citations, highlighted passages, the article list
and the page header, all *safe*.

Everything that comes from an article or a user is escaped here, once: the app only ever
places the strings these functions return. Highlights use the answer's exact document
offsets (``answer.start``/``answer.end``), never a re-match of the answer text.
"""
from __future__ import annotations

import html
import logging
import re
from typing import Iterable, Mapping, Sequence

from embeddings.documents import Document
from embeddings.errors import QAError
from qa.answering.present import NO_ANSWER, AnswerView, hit_key, pages_of, same_text
from qa.system import SystemStatus
from qa.types import Hit

log = logging.getLogger(__name__)

SNIPPET_CHARS = 220
_TEXT = {
    "de": {
        "assessment": "Einschätzung",
        "confident": "sicher",
        "uncertain": "unsicher",
        "check": "bitte die markierte Quelle prüfen",
        "alternatives": "Andere mögliche Antworten",
        "sources": "Quellen",
        "closest": "Die nächstliegenden Stellen",
        "followup": "Verstanden als",
        "open": "Ganzen Artikel öffnen",
        "passage": "Stelle",
        "words": "Wörter",
        "no_sources": "Noch keine Quellen: stellen Sie eine Frage.",
        "unmentioned": "Die gefundenen Stellen erwähnen nicht",
    },
    "en": {
        "assessment": "Assessment",
        "confident": "confident",
        "uncertain": "uncertain",
        "check": "please check the highlighted source",
        "alternatives": "Other possible answers",
        "sources": "Sources",
        "closest": "The closest passages",
        "followup": "Understood as",
        "open": "Open the full article",
        "passage": "passage",
        "words": "words",
        "no_sources": "No sources yet: ask a question.",
        "unmentioned": "The passages found do not mention",
    },
}

# --------------------------------------------------------------------------- escaping

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~:$=^])")


def escape_html(text: str) -> str:
    """Text for an HTML element or attribute: shows literally, runs nothing."""
    return html.escape(text, quote=True)


def escape_markdown(text: str) -> str:
    """Text for a Markdown message (the Chatbot): every Markdown character is backslash-
    escaped (no links, images, emphasis, lists, autolinks, LaTeX), then HTML-escaped (no
    tags). Whitespace is collapsed, so indentation cannot make a code block."""
    text = " ".join(text.split())
    return html.escape(_MARKDOWN_SPECIAL.sub(r"\\\1", text), quote=True)


def _source_line(hit: Hit, language: str = "en") -> str:
    """Title, outlet, date and, for a PDF, the page(s): whatever is known."""
    meta = hit.metadata or {}
    parts = [hit.title or hit.chunk.doc_id]
    parts += [meta[key] for key in ("outlet", "date") if meta.get(key)]
    pages = pages_of(hit, language)
    if pages:
        parts.append(pages)
    return " · ".join(parts)


def _percent(score: float) -> str:
    return f"{round(100 * max(0.0, min(1.0, score)))} %"


def _snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > limit // 2 else limit] + " …"


def question_markdown(question: str) -> str:
    """A user's question as a chat message: shown literally."""
    return escape_markdown(question)


def assessment_line(view: AnswerView) -> str:
    """"Einschätzung: sicher (87 %)" or "Einschätzung: unsicher (52 %) – bitte die markierte
    Quelle prüfen": the response's tier and its calibrated confidence that the answer is right
    (the number the tiers are cut from, not the reader's score of the span)."""
    t = _TEXT[view.language]
    tier = view.response.tier
    line = f"{t['assessment']}: {t[tier] if tier in ('confident', 'uncertain') else tier} " \
           f"({_percent(view.response.confidence)})"
    return f"{line} – {t['check']}" if tier == "uncertain" else line


def answer_markdown(view: AnswerView) -> str:
    """The assistant's chat message for a response (Markdown, all content escaped)."""
    t = _TEXT[view.language]
    lines: list[str] = []
    resolved = view.response.retrieval_query
    if resolved and not same_text(resolved, view.question):
        lines.append(f"*{t['followup']}: {escape_markdown(resolved)}*\n")
    if view.answer is None:
        lines.append(NO_ANSWER[view.language])
        if view.response.unmentioned:
            terms = ", ".join(escape_markdown(t) for t in view.response.unmentioned)
            lines.append(f"{t['unmentioned']}: {terms}.")
        if view.citations:
            lines.append(f"\n{t['closest']}:\n")
            for c in view.citations:
                lines.append(
                    f"- **\\[{c.number}\\]** {escape_markdown(_source_line(c.hit, view.language))}: "
                    f"{escape_markdown(_snippet(c.hit.chunk.text))}"
                )
        return "\n".join(lines)
    main = view.citation_for(view.answer)
    lines.append(f"**{escape_markdown(view.answer.text)}** \\[{main.number}\\]  \n{assessment_line(view)}")
    if view.alternatives:
        alternatives = ", ".join(
            f"{escape_markdown(a.text)} ({_percent(a.score)}) \\[{view.citation_for(a).number}\\]"
            for a in view.alternatives
        )
        lines.append(f"\n{t['alternatives']}: {alternatives}")
    lines.append(f"\n{t['sources']}:\n")
    for c in view.citations:
        lines.append(f"- \\[{c.number}\\] {escape_markdown(_source_line(c.hit, view.language))}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML panels

Span = tuple[int, int, str]  # document start, end, CSS class


def highlight(text: str, *, offset: int, spans: Iterable[Span]) -> str:
    """``text`` (which starts at document offset ``offset``) as escaped HTML with each span
    wrapped in ``<mark class=...>``. Spans are document offsets; ones outside ``text`` or
    overlapping an earlier span are skipped with a warning, never re-matched."""
    out: list[str] = []
    position = 0
    for start, end, css in sorted(spans, key=lambda s: (s[0], -s[1])):
        local_start, local_end = start - offset, end - offset
        if not 0 <= position <= local_start <= local_end <= len(text):
            log.warning("highlight %d-%d outside its passage or overlapping; not marked", start, end)
            continue
        out.append(escape_html(text[position:local_start]))
        out.append(f'<mark class="{css}">{escape_html(text[local_start:local_end])}</mark>')
        position = local_end
    out.append(escape_html(text[position:]))
    return "".join(out)


def _meta_html(hit_or_doc_meta: Mapping[str, str]) -> str:
    keys = ("outlet", "place", "date")
    parts = [escape_html(hit_or_doc_meta[k]) for k in keys if hit_or_doc_meta.get(k)]
    return " · ".join(parts)


def _answer_spans(view: AnswerView, hit: Hit) -> list[Span]:
    spans: list[Span] = []
    for answer in view.shown_answers:
        if hit_key(answer.hit) == hit_key(hit):
            css = "qa-answer" if answer is view.answer else "qa-alt"
            spans.append((answer.start, answer.end, css))
    return spans


def sources_html(view: AnswerView | None) -> str:
    """The source inspector: one card per citation with the passage and its answers marked.
    Each card has a button (``data-cite``) that opens the full article."""
    if view is None:
        return f'<div class="qa-empty">{escape_html(_TEXT["en"]["no_sources"])}</div>'
    t = _TEXT[view.language]
    cards = []
    for c in view.citations:
        chunk = c.hit.chunk
        body = highlight(chunk.text, offset=chunk.start, spans=_answer_spans(view, c.hit))
        meta = _meta_html(c.hit.metadata or {})
        pages = pages_of(c.hit, view.language)
        if pages:
            meta = f"{meta} · {escape_html(pages)}" if meta else escape_html(pages)
        cards.append(
            f'<div class="qa-card" data-cite="{c.number}">'
            f'<div class="qa-card-head"><span class="qa-num">{c.number}</span>'
            f'<span class="qa-title">{escape_html(c.hit.title or chunk.doc_id)}</span></div>'
            f'<div class="qa-meta">{meta}{" · " if meta else ""}{escape_html(t["passage"])} '
            f"{chunk.start}–{chunk.end} · score {c.hit.score:.2f}</div>"
            f'<div class="qa-passage">{body}</div>'
            f'<button class="qa-open" data-cite="{c.number}">{escape_html(t["open"])} →</button>'
            "</div>"
        )
    header = NO_ANSWER[view.language] if view.abstained else ""
    intro = f'<div class="qa-note">{escape_html(header)}</div>' if header else ""
    return f'<div class="qa-sources">{intro}{"".join(cards)}</div>'


def article_html(
    document: Document,
    *,
    passage: tuple[int, int] | None = None,
    spans: Sequence[Span] = (),
) -> str:
    """The whole article, escaped, with the cited passage marked (``id="qa-passage"``) and
    answer spans highlighted inside it, so the page can scroll it into view."""
    text = document.text
    head = (
        f'<div class="qa-article-head"><div class="qa-article-title">'
        f"{escape_html(document.title or document.doc_id)}</div>"
        f'<div class="qa-meta">{_meta_html(document.metadata or {})}'
        f'{" · " if _meta_html(document.metadata or {}) else ""}{escape_html(document.doc_id)} · '
        f"{len(text.split())} words</div></div>"
    )
    if passage is None or not 0 <= passage[0] <= passage[1] <= len(text):
        if passage is not None:
            log.warning("passage %s outside %s; not marked", passage, document.doc_id)
        body = escape_html(text)
    else:
        start, end = passage
        inner = [s for s in spans if start <= s[0] <= s[1] <= end]
        body = (
            escape_html(text[:start])
            + '<span class="qa-passage-mark" id="qa-passage">'
            + highlight(text[start:end], offset=start, spans=inner)
            + "</span>"
            + escape_html(text[end:])
        )
    return f'<div class="qa-article">{head}<div class="qa-article-body">{body}</div></div>'


def article_list_html(documents: Mapping[str, Document]) -> str:
    """The browsable list of articles; each row (``data-doc``) opens its article."""
    rows = []
    for doc_id, doc in documents.items():
        meta = doc.metadata or {}
        words = f"{len(doc.text.split()):,}".replace(",", "\u202f")  # 1 234: only the number
        rows.append(
            f'<tr class="qa-doc-row" data-doc="{escape_html(doc_id)}">'
            f"<td class=\"qa-doc-title\">{escape_html(doc.title or doc_id)}</td>"
            f"<td>{escape_html(meta.get('outlet', '') or '–')}</td>"
            f"<td>{escape_html(meta.get('date', '') or '–')}</td>"
            f'<td class="qa-num-cell">{words}</td></tr>'
        )
    return (
        '<table class="qa-doc-table"><thead><tr><th>Title</th><th>Outlet</th><th>Date</th>'
        f'<th>Words</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def citation_article_html(view: AnswerView, number: int, documents: Mapping[str, Document]) -> str:
    """The full article behind citation ``number`` with its passage and answers marked."""
    citation = next((c for c in view.citations if c.number == number), None)
    if citation is None:
        raise QAError(f"there is no citation [{number}] for this answer; pick one from the list")
    document = documents.get(citation.hit.chunk.doc_id)
    if document is None:
        raise QAError(
            f"the article {citation.hit.chunk.doc_id!r} is no longer in the index; "
            "restart the app to reload the corpus"
        )
    chunk = citation.hit.chunk
    return article_html(document, passage=(chunk.start, chunk.end), spans=_answer_spans(view, citation.hit))


# --------------------------------------------------------------------------- status line


_MODE_TEXT = {
    "hybrid": "hybrid retrieval (BM25 + {embedder})",
    "dense": "dense retrieval ({embedder})",
    "bm25": "BM25 retrieval",
}


def status_line(status: SystemStatus) -> str:
    """"4 articles · 27 passages · hybrid retrieval (BM25 + e5) · flat index · reader X"."""
    parts = [f"{status.articles} article{'s' if status.articles != 1 else ''}"]
    if status.passages is not None:
        parts.append(f"{status.passages} passage{'s' if status.passages != 1 else ''}")
    if status.mode:
        template = _MODE_TEXT.get(status.mode, status.mode + " retrieval")
        parts.append(template.format(embedder=status.embedder or "embeddings"))
    if status.index_kind:
        parts.append(f"{status.index_kind} index")
    if status.reader:
        parts.append(f"reader {status.reader}")
    return " · ".join(parts)


def header_html(status: SystemStatus) -> str:
    """The page header: what the tool does, and the status line (escaped)."""
    return (
        "<div id='qa-header'><h1>News QA</h1><p>Ask in German or English. Every answer is "
        f"copied word for word from {status.articles} articles, with its source one click "
        f"away.</p><p class='qa-status' id='qa-status'>{escape_html(status_line(status))}</p></div>"
    )


def added_html(document: Document, *, outcome: str, passages: int, note: str | None = None) -> str:
    """The confirmation under the form (all article text escaped), with ``note`` when the
    article was saved under another name than asked."""
    verb = {"added": "Added", "updated": "Updated (replaced the earlier version)",
            "unchanged": "Already in the corpus, unchanged:"}[outcome]
    extra = f'<div class="qa-add-note">{escape_html(note)}</div>' if note else ""
    return (f'<div class="qa-add-ok">✓ {escape_html(verb)} <b>{escape_html(document.title)}</b> '
            f"({escape_html(document.doc_id)}, {passages} passage{'s' if passages != 1 else ''}). "
            f"Ask about it now.{extra}</div>")


def hint_html(message: str) -> str:
    """A hint under the question box (e.g. an empty question), escaped."""
    return f'<div class="qa-hint" role="alert">{escape_html(message)}</div>'


def refused_html(message: str) -> str:
    return f'<div class="qa-add-error">⚠️ {escape_html(message)}</div>'
