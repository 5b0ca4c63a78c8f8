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
from urllib.parse import urlsplit

from embeddings.documents import Document
from embeddings.errors import QAError
from qa.answering.present import AnswerView, hit_key, pages_of, same_text
from qa.system import SystemStatus
from qa.types import Answer, Hit
from qa.web.texts import texts

log = logging.getLogger(__name__)

SNIPPET_CHARS = 220

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


def assessment_line(view: AnswerView, *, lang: str | None = None) -> str:
    """"Einschätzung: sicher (87 %)" or "Einschätzung: unsicher (52 %) – bitte die markierte
    Quelle prüfen": the response's tier and its calibrated confidence that the answer is right
    (the number the tiers are cut from, not the reader's score of the span). ``lang``: the
    interface's language (None: the question's)."""
    t = texts(lang or view.language)
    tier = view.response.tier if view.answer is not None else "none"
    line = f"{t['assessment']}: {t.get(tier, tier)} ({_percent(view.response.confidence)})"
    return f"{line} – {t['check']}" if tier == "uncertain" else line


def preview(view: AnswerView, number: int, *, limit: int = SNIPPET_CHARS) -> str:
    """What a citation's hover/focus preview shows: the sentence of the first shown answer that
    cites it (a long one cut around the answer), else the start of its passage. Plain text;
    escape it where it goes."""
    citation = next((c for c in view.citations if c.number == number), None)
    if citation is None:
        return ""
    answer: Answer | None = next((a for a in view.shown_answers
                                  if hit_key(a.hit) == hit_key(citation.hit)), None)
    if answer is None:
        return _snippet(citation.hit.chunk.text, limit)
    sentence, at = answer.sentence, answer.start - answer.sentence_start
    if len(sentence) <= limit or not 0 <= at <= len(sentence):
        return _snippet(sentence, limit)
    start = max(0, min(at - limit // 3, len(sentence) - limit))
    start = sentence.find(" ", start) + 1 if start > 0 and sentence.find(" ", start) != -1 else start
    cut = sentence[start:start + limit]
    tail = " …" if start + limit < len(sentence) else ""
    return ("… " if start > 0 else "") + " ".join(cut.split()) + tail


def citation_link(view: AnswerView, number: int, *, lang: str | None = None) -> str:
    """``[n]`` in a chat message: a link the page's script turns into "show this source" (the
    chat's sanitizer keeps only href, title and class, hence the number in the href). Its
    title is the source and the cited sentence, as plain text."""
    t = texts(lang or view.language)
    citation = next(c for c in view.citations if c.number == number)
    title = f"{t['cite'].format(number=number)}: {_source_line(citation.hit, lang or view.language)} – " \
            f"{preview(view, number)}"
    return (f'<a class="qa-cite" href="#qa-cite-{number}" title="{escape_html(" ".join(title.split()))}">'
            f"[{number}]</a>")


def answer_markdown(view: AnswerView, *, lang: str | None = None) -> str:
    """The assistant's chat message for a response (Markdown, all content escaped), in the
    interface's language ``lang`` (None: the question's), with clickable citation numbers."""
    lang = lang or view.language
    t = texts(lang)
    lines: list[str] = []
    resolved = view.response.retrieval_query
    if resolved and not same_text(resolved, view.question):
        lines.append(f"*{t['followup']}: {escape_markdown(resolved)}*\n")
    if view.answer is None:
        lines.append(t["no_answer"])
        if view.response.unmentioned:
            terms = ", ".join(escape_markdown(term) for term in view.response.unmentioned)
            lines.append(f"{t['unmentioned']}: {terms}.")
        if view.citations:
            lines.append(f"\n{t['closest']}:\n")
            for c in view.citations:
                lines.append(
                    f"- **{citation_link(view, c.number, lang=lang)}** "
                    f"{escape_markdown(_source_line(c.hit, lang))}: {escape_markdown(_snippet(c.hit.chunk.text))}"
                )
        return "\n".join(lines)
    main = view.citation_for(view.answer)
    lines.append(f"**{escape_markdown(view.answer.text)}** {citation_link(view, main.number, lang=lang)}  \n"
                 f"{assessment_line(view, lang=lang)}")
    if view.alternatives:
        alternatives = ", ".join(
            f"{escape_markdown(a.text)} {citation_link(view, view.citation_for(a).number, lang=lang)}"
            for a in view.alternatives
        )
        lines.append(f"\n{t['alternatives']}: {alternatives}")
    lines.append(f"\n{t['sources']}:\n")
    for c in view.citations:
        lines.append(f"- {citation_link(view, c.number, lang=lang)} {escape_markdown(_source_line(c.hit, lang))}")
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


def _meta_html(meta: Mapping[str, str]) -> str:
    keys = ("outlet", "place", "date")
    parts = [escape_html(meta[k]) for k in keys if meta.get(k)]
    return " · ".join(parts)


def original_url(meta: Mapping[str, str] | None) -> str | None:
    """The article's original address (metadata "url") when it is an http(s) URL, else None:
    no javascript:, data: or relative links ever reach the page."""
    url = str((meta or {}).get("url") or "").strip()
    parsed = urlsplit(url)
    if parsed.scheme.lower() not in ("http", "https") or not parsed.netloc \
            or any(c.isspace() or c in '<>"\\`' for c in url):
        return None
    return url


def original_link(meta: Mapping[str, str] | None, lang: str | None) -> str:
    """A link to the original article (new tab, no referrer), or "" when none is known."""
    url = original_url(meta)
    if url is None:
        return ""
    t = texts(lang)
    label = t["original_label"].format(host=urlsplit(url).hostname or url)
    return (f'<a class="qa-original" href="{escape_html(url)}" target="_blank" rel="noopener noreferrer" '
            f'aria-label="{escape_html(label)}" title="{escape_html(label)}">{escape_html(t["original"])} ↗</a>')


def _answer_spans(view: AnswerView, hit: Hit) -> list[Span]:
    spans: list[Span] = []
    for answer in view.shown_answers:
        if hit_key(answer.hit) == hit_key(hit):
            css = "qa-answer" if answer is view.answer else "qa-alt"
            spans.append((answer.start, answer.end, css))
    return spans


def sources_html(view: AnswerView | None, *, lang: str | None = None, active: int | None = None) -> str:
    """The source inspector: one card per citation (``id="qa-src-N"``) with title, outlet,
    date and a link to the original when known, the passage with its answers marked, a
    button (``data-cite``) that opens the full article, and the internals (file, offsets,
    search score) behind "Details". ``active``: the card a citation link asked for."""
    if view is None:
        return empty_html(texts(lang)["no_sources"])
    lang = lang or view.language
    t = texts(lang)
    cards = []
    for c in view.citations:
        chunk = c.hit.chunk
        meta_data = c.hit.metadata or {}
        body = highlight(chunk.text, offset=chunk.start, spans=_answer_spans(view, c.hit))
        meta = _meta_html(meta_data)
        pages = pages_of(c.hit, lang)
        if pages:
            meta = f"{meta} · {escape_html(pages)}" if meta else escape_html(pages)
        link = original_link(meta_data, lang)
        byline = " · ".join(part for part in (meta, link) if part)
        details = (f'<details class="qa-details"><summary>{escape_html(t["details"])}</summary>'
                   f'<span class="qa-details-body">{escape_html(t["file"])} {escape_html(chunk.doc_id)} · '
                   f'{escape_html(t["passage"])} {chunk.start}–{chunk.end} · {escape_html(t["score"])} '
                   f"{c.hit.score:.2f}</span></details>")
        css = "qa-card qa-card-active" if c.number == active else "qa-card"
        cards.append(
            f'<div class="{css}" id="qa-src-{c.number}" data-cite="{c.number}" tabindex="-1">'
            f'<div class="qa-card-head"><span class="qa-num">{c.number}</span>'
            f'<span class="qa-title">{escape_html(c.hit.title or chunk.doc_id)}</span></div>'
            + (f'<div class="qa-meta">{byline}</div>' if byline else "")
            + f'<div class="qa-passage">{body}</div>'
            f'<div class="qa-card-foot"><button class="qa-open" data-cite="{c.number}">{escape_html(t["open"])} →</button>'
            f"{details}</div></div>"
        )
    header = t["no_answer"] if view.abstained else ""
    intro = f'<div class="qa-note">{escape_html(header)}</div>' if header else ""
    return f'<div class="qa-sources">{intro}{"".join(cards)}</div>'


def article_html(
    document: Document,
    *,
    passage: tuple[int, int] | None = None,
    spans: Sequence[Span] = (),
    lang: str | None = None,
) -> str:
    """The whole article, escaped, with the cited passage marked (``id="qa-passage"``) and
    answer spans highlighted inside it, so the page can scroll it into view."""
    text = document.text
    meta_data = document.metadata or {}
    byline = " · ".join(part for part in (_meta_html(meta_data), original_link(meta_data, lang),
                                          f"{escape_html(document.doc_id)} · {len(text.split())} "
                                          f"{escape_html(texts(lang)['words'])}") if part)
    head = (
        f'<div class="qa-article-head"><div class="qa-article-title">'
        f"{escape_html(document.title or document.doc_id)}</div>"
        f'<div class="qa-meta">{byline}</div></div>'
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
    # focusable, so the scrolling panel can be scrolled by keyboard (axe: scrollable-region-focusable)
    name = escape_html(" ".join((document.title or document.doc_id).split()))
    return (f'<div class="qa-article" tabindex="0" role="region" aria-label="{name}">{head}'
            f'<div class="qa-article-body">{body}</div></div>')


def article_list_html(documents: Mapping[str, Document], *, lang: str | None = None) -> str:
    """The browsable list of articles; each row (``data-doc``) opens its article, by click or
    by Enter/Space once focused (the rows are in the tab order); a known original is linked."""
    t = texts(lang)
    rows = []
    for doc_id, doc in documents.items():
        meta = doc.metadata or {}
        words = f"{len(doc.text.split()):,}".replace(",", "\u202f")  # 1 234: only the number
        title = doc.title or doc_id
        rows.append(
            f'<tr class="qa-doc-row" data-doc="{escape_html(doc_id)}" tabindex="0" '
            f'aria-label="{escape_html(t["open_article"].format(title=" ".join(title.split())))}">'
            f"<td class=\"qa-doc-title\">{escape_html(title)}"
            f"{' ' + original_link(meta, lang) if original_url(meta) else ''}</td>"
            f"<td>{escape_html(meta.get('outlet', '') or '–')}</td>"
            f"<td>{escape_html(meta.get('date', '') or '–')}</td>"
            f'<td class="qa-num-cell">{words}</td></tr>'
        )
    return (
        f'<table class="qa-doc-table"><thead><tr><th>{escape_html(t["col_title"])}</th>'
        f'<th>{escape_html(t["col_outlet"])}</th><th>{escape_html(t["col_date"])}</th>'
        f'<th>{escape_html(t["col_words"])}</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def citation_article_html(view: AnswerView, number: int, documents: Mapping[str, Document], *,
                          lang: str | None = None) -> str:
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
    return article_html(document, passage=(chunk.start, chunk.end), spans=_answer_spans(view, citation.hit),
                        lang=lang or view.language)


# --------------------------------------------------------------------------- status line


def _count(t: Mapping[str, str], key: str, n: int) -> str:
    return t[f"{key}_one"] if n == 1 else t[key].format(n=n)


def status_line(status: SystemStatus, *, lang: str | None = "en") -> str:
    """"4 articles · 27 passages · hybrid retrieval (BM25 + e5) · flat index · reader X" (or
    in German: "4 Artikel · 27 Stellen · hybride Suche …")."""
    t = texts(lang)
    parts = [_count(t, "status_articles", status.articles)]
    if status.passages is not None:
        parts.append(_count(t, "status_passages", status.passages))
    if status.mode:
        template = t.get(f"status_{status.mode}", t["status_other"])
        parts.append(template.format(embedder=status.embedder or "embeddings", mode=status.mode))
    if status.index_kind:
        parts.append(t["status_index"].format(kind=status.index_kind))
    if status.store and status.store.startswith("PostgreSQL"):
        parts.append(status.store)
    if status.reader:
        parts.append(t["status_reader"].format(reader=status.reader))
    return " · ".join(parts)


def header_html(status: SystemStatus, *, lang: str | None = None) -> str:
    """The page header: what the tool does, and the status line (escaped)."""
    t = texts(lang)
    return (
        f"<div id='qa-header'><h1>{escape_html(t['page_title'].split(' · ')[0])}</h1>"
        f"<p>{escape_html(t['intro'].format(articles=status.articles))}</p>"
        f"<p class='qa-status' id='qa-status'>{escape_html(status_line(status, lang=lang or 'de'))}</p></div>"
    )


def added_html(document: Document, *, outcome: str, passages: int, note: str | None = None,
               lang: str | None = "en", asked_name: str | None = None) -> str:
    """The confirmation under the form (all article text escaped), with a note when the
    article was saved under another name than ``asked_name`` (``note``: that note's words
    where the name is not known)."""
    t = texts(lang)
    count = _count(t, "status_passages", passages)
    if asked_name is not None and asked_name != document.doc_id:
        note = t["renamed"].format(asked=asked_name, saved=document.doc_id)
    extra = f'<div class="qa-add-note">{escape_html(note)}</div>' if note else ""
    return (f'<div class="qa-add-ok">✓ {escape_html(t[outcome])} <b>{escape_html(document.title)}</b> '
            f"({escape_html(document.doc_id)}, {escape_html(count)}). {escape_html(t['ask_now'])}{extra}</div>")


def empty_html(message: str) -> str:
    """A panel's placeholder (escaped)."""
    return f'<div class="qa-empty">{escape_html(message)}</div>'


def hint_html(message: str) -> str:
    """A hint under the question box (e.g. an empty question), escaped."""
    return f'<div class="qa-hint" role="alert">{escape_html(message)}</div>'


def notice_html(message: str) -> str:
    """A confirmation (e.g. feedback stored), announced politely, escaped."""
    return f'<div class="qa-notice" role="status">{escape_html(message)}</div>'


def error_text(error: QAError, *, lang: str | None) -> str:
    """What the chat says for ``error``: its message in the page's language when the error
    names one (``error.key``: the table's ``error_<key>``), else its own words."""
    template = texts(lang).get(f"error_{getattr(error, 'key', None)}")
    if template is None:
        return str(error)
    try:
        return template.format(**getattr(error, "values", {}))
    except (KeyError, IndexError, ValueError):   # a message raised without the values it names
        log.warning("message %r lacks its values; showing the error's own words", error.key)
        return str(error)


def refused_html(message: str) -> str:
    return f'<div class="qa-add-error">⚠️ {escape_html(message)}</div>'
