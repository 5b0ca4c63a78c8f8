"""The chat's logic without Gradio: checking questions, resolving elliptic follow-ups, and
rendering answers, citations and highlighted passages as *safe* Markdown/HTML.

Everything that comes from an article or a user is escaped here, once: the app only ever
places the strings these functions return. Highlights use the answer's exact document
offsets (``answer.start``/``answer.end``), never a re-match of the answer text.
"""
from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from embeddings.documents import Document
from embeddings.formats import HIDDEN_METADATA, page_label
from qa.errors import QAError
from qa.types import Answer, Hit, Response

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
# An alternative answer is shown when its score is at least this share of the best one's:
# readers' scores fall off steeply, so half the top score still means "a real contender".
ALTERNATIVE_SCORE_RATIO = 0.5
MAX_ALTERNATIVES = 2
CLOSEST_PASSAGES = 3
SNIPPET_CHARS = 220

NO_ANSWER = {
    "de": "Dazu finde ich in den Artikeln keine Antwort.",
    "en": "I can't find an answer to that in the articles.",
}
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

# --------------------------------------------------------------------------- questions

_GERMAN_HINTS = frozenset(
    "der die das und ist sind wer wie was wann wo warum wieso weshalb welche welcher welches "
    "hat haben nicht mit von zu den dem des ein eine einen auch noch wurde wurden wird werden "
    "im am zum zur für über nach bei sich es".split()
)
_ENGLISH_HINTS = frozenset(
    "the and is are who how what when where why which has have not with of to a an also else "
    "was were will be did does do in on at for about after by it its".split()
)


def detect_language(text: str) -> str:
    """"de" or "en", by counting common function words; German wins ties (German corpus)."""
    words = re.findall(r"[a-zäöüß]+", text.lower())
    if any(ch in text for ch in "äöüÄÖÜß"):
        return "de"
    german = sum(w in _GERMAN_HINTS for w in words)
    english = sum(w in _ENGLISH_HINTS for w in words)
    return "en" if english > german else "de"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def check_question(raw: object) -> str:
    """The question as clean text, or a QAError a user can act on (shown in the chat)."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise QAError(
            f"Bitte eine Frage als Text eingeben (bekommen: {type(raw).__name__}). "
            "/ Please type your question as text."
        )
    question = " ".join(_CONTROL.sub(" ", raw).split())
    if not question:
        raise QAError("Bitte eine Frage eingeben. / Please type a question.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QAError(
            f"Die Frage ist {len(question):,} Zeichen lang; bitte höchstens "
            f"{MAX_QUESTION_CHARS:,} Zeichen. / The question is {len(question):,} characters "
            f"long; please keep it under {MAX_QUESTION_CHARS:,}.".replace(",", "\u202f")
        )
    return question


# --------------------------------------------------------------------------- follow-ups

_QUESTION_WORDS = frozenset(
    "wer wen wem wessen was wann wo wohin woher warum weshalb wieso weswegen wie wieviel "
    "wieviele welche welcher welches welchen welchem "
    "who whom whose what when where why how which".split()
)
# Words that may stand beside a bare question word in an elliptic follow-up ("Wer noch?").
_MODIFIERS = frozenset(
    "noch sonst denn genau eigentlich dann außerdem else exactly then also again".split()
)
_LEAD_PHRASES = (
    "und was ist mit", "und wie ist es mit", "und wie steht es mit", "was ist mit",
    "wie ist es mit", "wie steht es mit", "and what about", "and how about", "what about",
    "how about", "und", "and", "aber", "but", "sowie", "also",
)
_PREPOSITIONS = frozenset("seit bis ab in an um für von mit aus zu since until for from at with by to".split())
_QUANTIFIERS = frozenset("viele viel lange oft weit groß hoch alt many much long often far old".split())
MAX_FOLLOWUP_WORDS = 5


def _is_bare_question(words: list[str]) -> bool:
    """Only question words, with modifiers or a preposition: "wann", "wer noch", "seit wann"."""
    allowed = _QUESTION_WORDS | _MODIFIERS | _PREPOSITIONS | _QUANTIFIERS
    return bool(words) and all(w in allowed for w in words) and any(w in _QUESTION_WORDS for w in words)
_WORD = re.compile(r"[\w'’-]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def _strip_lead(question: str) -> tuple[str, bool]:
    """The follow-up without its opening "Und"/"What about", and whether it had one."""
    lowered = question.lower()
    for phrase in _LEAD_PHRASES:
        if re.match(re.escape(phrase) + r"(?!\w)", lowered):
            return question[len(phrase):].lstrip(" ,"), True
    return question, False


def is_followup(question: str) -> bool:
    """True for an elliptic follow-up: short, and either led by "Und"/"What about", only
    question words ("Wann?", "Wer noch?"), or a bare phrase of at most three words ending
    in "?" without any question word ("Die Nato?")."""
    words = _words(question)
    if not words or len(words) > MAX_FOLLOWUP_WORDS:
        return False
    rest, led = _strip_lead(question.strip())
    rest_words = [w.lower() for w in _words(rest)]
    if led:
        return True
    if _is_bare_question(rest_words):
        return True
    return (
        len(rest_words) <= 3
        and question.rstrip().endswith("?")
        and not any(w in _QUESTION_WORDS for w in rest_words)
    )


def resolve_followup(question: str, history: Sequence[str] | None) -> str:
    """The query to retrieve and read with: ``question`` itself, or, for an elliptic
    follow-up, the question combined with the previous turn (itself resolved first).

    ``history`` holds the earlier questions of the conversation as typed, oldest first.
    - A bare question word replaces the previous question phrase ("Wer", "Wie viele",
      "Seit wann"): "Wer hat X getan?" + "Und wann?" -> "Wann hat X getan?"; "Wer noch?"
      keeps its "noch".
    - "Und" before a complete question ("Und was sagt Putin?") is dropped: the rest stands
      on its own.
    - A new topic replaces the previous question's last noun phrase (see
      :func:`swap_topic`): "Wann ist die Sitzung des Nato-Russland-Rates?" + "Und die
      OSZE?" -> "Wann ist die Sitzung der OSZE?". When no noun phrase can be identified,
      the topic is attached, so nothing of the previous question is lost: "Biden
      Telefonat" + "Und Macron?" -> "Biden Telefonat – und Macron?"
    A resolved query is never itself a follow-up, so resolving twice changes nothing.
    """
    question = " ".join(question.split())
    if not history or not is_followup(question):
        return question
    previous = resolve_followup(history[-1], history[:-1])
    if not previous or is_followup(previous):
        return question
    rest, _ = _strip_lead(question)
    rest = rest.strip().rstrip("?!. ").strip()
    if not rest:  # "Und?" alone: ask the previous question again
        return previous
    anchor = previous.strip().rstrip("?!. ").strip()
    rest_words = [w.lower() for w in _words(rest)]
    phrase, anchor_rest = _split_question_phrase(anchor)
    if _is_bare_question(rest_words):
        new_lead = rest[:1].upper() + rest[1:]
        return f"{new_lead} {anchor_rest or anchor}?"
    own_phrase, own_rest = _split_question_phrase(rest)
    if own_phrase and own_rest:  # "Und was sagt Putin?": a question of its own
        return f"{rest[:1].upper()}{rest[1:]}?"
    swapped = swap_topic(anchor, rest, language=detect_language(anchor))
    if swapped is not None:
        return f"{swapped}?"
    lead = "and" if detect_language(question) == "en" else "und"
    return f"{anchor} – {lead} {_lower_article(rest)}?"


def _split_question_phrase(question: str) -> tuple[str, str]:
    """("Seit wann", "gilt das") for "Seit wann gilt das": an optional preposition, a question
    word, an optional quantifier ("Wie viele", "How many"); ("", question) when there is none."""
    words = question.split(" ")
    i = 1 if len(words) > 1 and words[0].lower() in _PREPOSITIONS else 0
    if i >= len(words) or words[i].lower().strip(",") not in _QUESTION_WORDS:
        return "", question
    i += 1
    if i < len(words) and words[i].lower() in _QUANTIFIERS:
        i += 1
    return " ".join(words[:i]).rstrip(","), " ".join(words[i:])


# --- topic swap: "Und die OSZE?" after "Wann ist die Sitzung des Nato-Russland-Rates?" -------

_DE_ARTICLES = frozenset("der die das den dem des ein eine einen einem einer eines".split())
# Preposition + article in one word: the preposition stays, the article's case is dative.
_DE_CONTRACTIONS = {"im": "in", "am": "an", "zum": "zu", "zur": "zu", "vom": "von",
                    "beim": "bei", "ins": "in", "ans": "an", "aufs": "auf"}
_DE_PP = frozenset("in an auf aus bei mit nach von zu vor über unter zwischen gegen für um durch "
                   "seit bis ohne neben hinter gegenüber wegen während".split())
_EN_PP = frozenset("in on at from with to for about of by between against since into near".split())
# The article of the new topic, put into the case the replaced noun phrase had. Only the
# unambiguous cases are adapted (genitive "des", dative "dem"/"im"/...); the noun itself is
# never inflected ("des Kreml", "der OSZE").
_GENITIVE = {"die": "der", "der": "des", "das": "des", "eine": "einer", "ein": "eines"}
_DATIVE = {"die": "der", "der": "dem", "das": "dem", "eine": "einer", "ein": "einem"}
_ADJECTIVES_MAX = 3


@dataclass(frozen=True, slots=True)
class _Phrase:
    """A noun phrase of a question, as token positions: [start, end) replaced; ``keep`` is
    what stays in front of the new topic (the preposition of "im", or nothing)."""

    start: int
    end: int
    case: str          # "genitive", "dative" or "" (leave the new article as typed)
    keep: str = ""
    has_preposition: bool = False


def _german_phrases(tokens: list[str]) -> list[_Phrase]:
    """Article (or "im", "zur", ...) + up to three lower-case words + one capitalised noun."""
    phrases = []
    for i, token in enumerate(tokens):
        word = token.lower()
        if word not in _DE_ARTICLES and word not in _DE_CONTRACTIONS:
            continue
        j = i + 1
        while j < len(tokens) and j - i <= _ADJECTIVES_MAX and tokens[j][:1].islower():
            j += 1
        if j >= len(tokens) or not tokens[j][:1].isupper():
            continue
        before = tokens[i - 1].lower() if i > 0 else ""
        if word in _DE_CONTRACTIONS:
            case = "dative"
            phrases.append(_Phrase(i, j + 1, case, keep=_DE_CONTRACTIONS[word], has_preposition=True))
            continue
        if word in ("des", "eines"):
            case = "genitive"
        elif word in ("dem", "einem"):
            case = "dative"
        elif word in ("der", "einer") and before in _DE_PP:
            case = "dative"
        elif word in ("der", "einer") and i > 0 and tokens[i - 1][:1].isupper():
            case = "genitive"  # "die Grenze der Ukraine"
        else:
            case = ""
        start = i - 1 if before in _DE_PP else i
        phrases.append(_Phrase(start, j + 1, case, keep=tokens[i - 1] if start < i else "",
                               has_preposition=start < i))
    return phrases


def _english_phrases(tokens: list[str]) -> list[_Phrase]:
    """Runs of capitalised words after the first (names: "NATO-Russia Council", "Biden")."""
    phrases = []
    i = 1
    while i < len(tokens):
        if tokens[i][:1].isupper() and tokens[i].lower() not in _QUESTION_WORDS:
            j = i
            while j < len(tokens) and tokens[j][:1].isupper():
                j += 1
            before = tokens[i - 1].lower()
            start = i - 1 if before in _EN_PP else i
            phrases.append(_Phrase(start, j, "", keep=tokens[i - 1] if start < i else "",
                                   has_preposition=start < i))
            i = j
        else:
            i += 1
    return phrases


def _lower_article(topic: str) -> str:
    """"Die Nato" -> "die Nato" (a topic typed at the start of a message, moved inside one)."""
    head, _, tail = topic.partition(" ")
    if tail and head.lower() in _DE_ARTICLES | {"the", "a", "an"}:
        return f"{head.lower()} {tail}"
    return topic


def swap_topic(anchor: str, topic: str, *, language: str) -> str | None:
    """``anchor`` (a question without its "?") with its last noun phrase replaced by ``topic``,
    or None when no noun phrase can be identified.

    Noun phrases: German, an article ("die", "des", ...) or a contraction ("im", "zur") with
    up to three lower-case words and one capitalised noun ("des Nato-Russland-Rates", "der
    russischen Armee"), with a preposition in front if there is one; English, a run of
    capitalised words after the first word ("the NATO-Russia Council meeting"). A topic led
    by a preposition ("in Luhansk") replaces the last phrase that has one (preposition
    included); any other topic replaces the last phrase, keeping its preposition, and a
    German article is put into that phrase's genitive or dative when the phrase was one.
    """
    tokens = anchor.split(" ")
    phrases = _english_phrases(tokens) if language == "en" else _german_phrases(tokens)
    topic_tokens = _lower_article(topic).split(" ")
    prepositions = _EN_PP if language == "en" else _DE_PP
    if topic_tokens[0].lower() in prepositions:
        phrases = [p for p in phrases if p.has_preposition]
        if not phrases:
            return None
        target = phrases[-1]
        return " ".join(tokens[:target.start] + topic_tokens + tokens[target.end:])
    if not phrases:
        return None
    target = phrases[-1]
    article = topic_tokens[0].lower()
    if language == "en":
        if article in ("the", "a", "an") and len(topic_tokens) > 1 and target.start > 0 \
                and tokens[target.start - 1].lower() in ("the", "a", "an"):
            topic_tokens = topic_tokens[1:]  # "the" + "the OSCE" -> "the OSCE"
    elif article in _DE_ARTICLES and len(topic_tokens) > 1:
        table = _GENITIVE if target.case == "genitive" else _DATIVE if target.case == "dative" else {}
        topic_tokens = [table.get(article, topic_tokens[0])] + topic_tokens[1:]
    kept = [target.keep] if target.keep else []
    return " ".join(tokens[:target.start] + kept + topic_tokens + tokens[target.end:])


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


# --------------------------------------------------------------------------- presenting


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
        key = _hit_key(answer.hit)
        return next(c for c in self.citations if _hit_key(c.hit) == key)


def _hit_key(hit: Hit) -> tuple[str, int, int]:
    return (hit.chunk.doc_id, hit.chunk.start, hit.chunk.end)


def _same_text(a: str, b: str) -> bool:
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
        if any(_same_text(candidate.text, a.text) for a in (best, *alternatives)):
            continue
        alternatives.append(candidate)
    citations: list[Citation] = []
    for answer in (best, *alternatives):
        if all(_hit_key(c.hit) != _hit_key(answer.hit) for c in citations):
            citations.append(Citation(len(citations) + 1, answer.hit))
    return AnswerView(response, language, best, tuple(alternatives), tuple(citations), question)


def _source_line(hit: Hit, language: str = "en") -> str:
    """Title, outlet, date and, for a PDF, the page(s): whatever is known."""
    meta = hit.metadata or {}
    parts = [hit.title or hit.chunk.doc_id]
    parts += [meta[key] for key in ("outlet", "date") if meta.get(key)]
    pages = pages_of(hit, language)
    if pages:
        parts.append(pages)
    return " · ".join(parts)


def pages_of(hit: Hit, language: str = "en") -> str | None:
    """"page 3" / "Seite 3" for a passage of a PDF (from its page map), else None."""
    label = page_label(hit, hit.chunk.start, hit.chunk.end)  # reads hit.metadata["page_starts"]
    if label is None or language != "de":
        return label
    return label.replace("pages", "Seiten").replace("page", "Seite")


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
    if resolved and not _same_text(resolved, view.question):
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
        if _hit_key(answer.hit) == _hit_key(hit):
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
        rows.append(
            f'<tr class="qa-doc-row" data-doc="{escape_html(doc_id)}">'
            f"<td class=\"qa-doc-title\">{escape_html(doc.title or doc_id)}</td>"
            f"<td>{escape_html(meta.get('outlet', '') or '–')}</td>"
            f"<td>{escape_html(meta.get('date', '') or '–')}</td>"
            f'<td class="qa-num-cell">{len(doc.text.split()):,}</td></tr>'.replace(",", "\u202f")
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


# --------------------------------------------------------------------------- API data


def _answer_dict(answer: Answer, citation: int) -> dict[str, object]:
    data = {f.name: getattr(answer, f.name) for f in fields(Answer) if f.name != "hit"}
    data["citation"] = citation
    return data


def _citation_dict(citation: Citation) -> dict[str, object]:
    hit, chunk = citation.hit, citation.hit.chunk
    return {
        "number": citation.number,
        "doc_id": chunk.doc_id,
        "title": hit.title,
        "metadata": {k: v for k, v in (hit.metadata or {}).items() if k not in HIDDEN_METADATA},
        "pages": pages_of(hit),
        "start": chunk.start,
        "end": chunk.end,
        "passage": chunk.text,
        "score": hit.score,
        "rank": hit.rank,
    }


def view_to_dict(view: AnswerView) -> dict[str, object]:
    """The answer as JSON-able data, as the ``/ask`` API endpoint returns it."""
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
        "answers": [_answer_dict(a, view.citation_for(a).number) for a in view.shown_answers],
        "citations": [_citation_dict(c) for c in view.citations],
    }


# --------------------------------------------------------------------------- status line


@dataclass(frozen=True, slots=True)
class CorpusStatus:
    """What the page says about the system: corpus size, retrieval, index and reader."""

    articles: int
    passages: int | None = None
    mode: str | None = None          # "dense", "bm25" or "hybrid"
    embedder: str | None = None      # the embedding model's short name
    index_kind: str | None = None    # "flat", "hnsw", "ivfpq"
    reader: str | None = None


_MODE_TEXT = {
    "hybrid": "hybrid retrieval (BM25 + {embedder})",
    "dense": "dense retrieval ({embedder})",
    "bm25": "BM25 retrieval",
}


def status_line(status: CorpusStatus) -> str:
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


def header_html(status: CorpusStatus) -> str:
    """The page header: what the tool does, and the status line (escaped)."""
    return (
        "<div id='qa-header'><h1>News QA</h1><p>Ask in German or English. Every answer is "
        f"copied word for word from {status.articles} articles, with its source one click "
        f"away.</p><p class='qa-status' id='qa-status'>{escape_html(status_line(status))}</p></div>"
    )


# --------------------------------------------------------------------------- adding articles

ARTICLE_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
MAX_ARTICLE_BYTES = 5_000_000  # the loader's own limit (embeddings.documents.MAX_BYTES)
MAX_TITLE_CHARS = 200
FILE_STEM_CHARS = 60
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                                "Ü": "Ue"})


def article_file_name(name: str, *, suffix: str = ".txt") -> str:
    """A safe file name for the corpus folder from a title or an uploaded file's name: ASCII
    letters, digits and dashes only ("../../etc/passwd" -> "etc-passwd.txt"), so it can never
    leave the folder, hide itself (leading dot) or clash in case."""
    import unicodedata

    stem = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    stem = stem.encode("ascii", "ignore").decode("ascii").lower()
    stem = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:FILE_STEM_CHARS].rstrip("-")
    return f"{stem or 'article'}{suffix.lower()}"


def pasted_article(title: object, text: object) -> tuple[str, str]:
    """(file name, file content) for an article pasted with a title; QAError when either is
    missing or the text is too large. The title becomes the first line, which the loader
    reads as the headline."""
    title = " ".join(_CONTROL.sub(" ", title).split()) if isinstance(title, str) else ""
    text = normalise_article_text(text if isinstance(text, str) else "")
    if not title:
        raise QAError("Bitte einen Titel angeben. / Please give the article a title.")
    if len(title) > MAX_TITLE_CHARS:
        raise QAError(f"The title has {len(title)} characters; keep it under {MAX_TITLE_CHARS}.")
    if not text.strip():
        raise QAError("Bitte den Text des Artikels einfügen. / Please paste the article's text.")
    content = f"{title}\n\n{text.strip()}\n"
    size = len(content.encode("utf-8"))
    if size > MAX_ARTICLE_BYTES:
        raise QAError(f"The text is {size / 1e6:.1f} MB; articles may have at most "
                      f"{MAX_ARTICLE_BYTES / 1e6:.0f} MB. Split it into articles.")
    return article_file_name(title), content


def normalise_article_text(text: str) -> str:
    """Pasted text with Windows line ends unified and control characters (but tabs and
    newlines) removed: what is stored is what is shown."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)


def check_upload(path: Path, *, original_name: str | None = None) -> str:
    """The safe corpus file name for an uploaded file, or a QAError saying why it is refused:
    unsupported type, too large, empty, binary, or a ".pdf" that is no PDF. (The loader then
    checks encoding, HTML and the PDF's text layer.)"""
    shown = Path(original_name or path.name).name
    suffix = Path(shown).suffix.lower()
    if suffix not in ARTICLE_SUFFIXES:
        raise QAError(f"{shown}: {suffix or 'files without an extension'} cannot be added; "
                      f"upload {', '.join(ARTICLE_SUFFIXES)} files.")
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8192)
    except OSError as error:
        raise QAError(f"{shown}: the upload could not be read ({error.strerror or error}); "
                      "try again.") from None
    if size > MAX_ARTICLE_BYTES:
        raise QAError(f"{shown} is {size / 1e6:.1f} MB; articles may have at most "
                      f"{MAX_ARTICLE_BYTES / 1e6:.0f} MB. Split it into articles.")
    if not head.strip():
        raise QAError(f"{shown} is empty.")
    if suffix == ".pdf":
        if not head.lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
            raise QAError(f"{shown} is not a PDF (no %PDF header); upload the real PDF or "
                          "save the article as text.")
    elif b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise QAError(f"{shown} is a binary file, not a text article; upload .txt, .md, "
                      ".html or .pdf.")
    return article_file_name(Path(shown).stem, suffix=".html" if suffix == ".htm" else suffix)


def added_html(document: Document, *, outcome: str, passages: int) -> str:
    """The confirmation under the form (all article text escaped)."""
    verb = {"added": "Added", "updated": "Updated (replaced the earlier version)",
            "unchanged": "Already in the corpus, unchanged:"}[outcome]
    return (f'<div class="qa-add-ok">✓ {escape_html(verb)} <b>{escape_html(document.title)}</b> '
            f"({escape_html(document.doc_id)}, {passages} passage{'s' if passages != 1 else ''}). "
            "Ask about it now.</div>")


def refused_html(message: str) -> str:
    return f'<div class="qa-add-error">⚠️ {escape_html(message)}</div>'
