"""One question check for every surface, the question's language, and elliptic follow-ups.

The chat, ``qa ask``, ``qa search``, the /ask API and ``qa eval`` all pass a question through
:func:`check_question` (one limit, one message); the pipeline resolves a follow-up ("Und
wann?") against the conversation with :func:`resolve_followup` before retrieval.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from embeddings.errors import QAError

# One limit for the chat, the CLI and the API: a question, not a whole text.
MAX_QUESTION_CHARS = 1000

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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def check_question(raw: object) -> str:
    """The question as clean text, or a QAError a user can act on (shown in the chat)."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise QAError(
            f"Bitte eine Frage als Text eingeben (bekommen: {type(raw).__name__}). "
            "/ Please type your question as text.", key="question_not_text"
        )
    if _SURROGATE.search(raw):  # bytes that were not UTF-8, e.g. from a terminal's argv
        raise QAError("Die Frage enthält Bytes, die kein UTF-8-Text sind; bitte als Text eingeben. "
                      "/ The question holds bytes that are not UTF-8 text; type it as text.",
                      key="question_bytes")
    question = " ".join(_CONTROL.sub(" ", raw).split())
    if not question:
        raise QAError("Bitte eine Frage eingeben. / Please type a question.", key="question_empty")
    if len(question) > MAX_QUESTION_CHARS:
        raise QAError(
            f"Die Frage ist {len(question):,} Zeichen lang; bitte höchstens "
            f"{MAX_QUESTION_CHARS:,} Zeichen. / The question is {len(question):,} characters "
            f"long; please keep it under {MAX_QUESTION_CHARS:,}.".replace(",", "\u202f"),
            key="question_too_long", chars=len(question), limit=MAX_QUESTION_CHARS
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

