"""German-aware sentence splitting that returns exact character spans.

A small rule-based splitter, chosen over SoMaJo (heavy, slow to import, and it
re-tokenises, so offsets would have to be mapped back): news German needs a handful of
rules, each covered by a test in tests/test_sentences.py.

How a text is cut:

1. Into blocks. A blank line always ends a block. A single line break ends one only when
   the line is a Markdown heading, the next line is a heading or a list item, or the line
   is a short headline-like line (no final punctuation, clearly shorter than the next
   line); otherwise it is a soft wrap inside a paragraph.
2. Inside a block, at ``.``, ``!``, ``?`` or ``…`` (plus any closing quotes or brackets,
   which stay with the sentence) followed by white space. It is *not* a boundary when the
   next word starts in lower case, after abbreviations ("z. B.", "Nr.", "Dr.", "bzw."),
   initials ("J. Biden"), ordinals ("am 9. und 10. Januar", "im 21. Jahrhundert") and
   list numbers ("2. Wie ..."). Words that may or may not end a sentence ("etc.", "Mio.",
   an initial, an ordinal) end one only when the next word is a typical sentence opener
   ("Die", "Er", "Doch", ...).
3. A dpa sign-off glued to the last sentence ("führen./mau/DP/mis") is cut off into its
   own span.
"""
from __future__ import annotations

import re

Span = tuple[int, int]

# Closing quotes and brackets that belong to the sentence they follow.
_CLOSERS = "\"'»«“”‘’)]"
# Opening quotes and brackets that may precede a sentence's first word.
_OPENERS = "\"'»«„“‚‘(["

_CANDIDATE = re.compile(
    r"(?P<punct>[.!?…]+)(?P<closers>[" + re.escape(_CLOSERS) + r"]*)"
    r"(?=\s|$|(?P<signoff>(?:/[^\W\d_]{1,8})+\s*\Z))"
)
# The run of abbreviation-like pieces right before a period: "z. B", "u.a", "Dr", "J".
_ABBREVIATION_TAIL = re.compile(
    r"(?<![^\s(\[/„“\"'»«‚‘-])((?:[^\W\d_]{1,4}\.[ \u00a0]?)*[^\W\d_]+)$"
)
# Abbreviations, ordinals and initials are short: look back no further than this.
_LOOKBACK = 40
_WORD_HEAD = re.compile(r"[\w-]+")
_LIST_ITEM = re.compile(r"\s*(?:[-*+•]|\d{1,3}[.)])\s+(?![a-zäöüß])")
_MD_HEADING = re.compile(r"\s{0,3}#{1,6}\s")
_SETEXT_UNDERLINE = re.compile(r"\s{0,3}(?:=+|-+)\s*$")
_ORDINAL_LIKE = re.compile(r"\d{1,3}|\d{1,2}\.\d{1,2}")

# Never end a sentence: always followed by what they abbreviate or qualify.
_NEVER_FINAL = frozenset(
    """
    Abb Abs Abt Anm Bd Bsp Dipl Dr Fa Fr Frl Hr Hrn Hrsg Ing Kap Lt Mr Mrs Ms Nr Nrn Pkt
    Prof Sen St Str Tel Verf Ziff
    bspw bzw ca d.h dt engl evtl franz geb gegr gem ggf i.d.R inkl insb m.E o.g o.ä resp
    s.o s.u sog u.U v.a vgl vs z.B z.T z.Zt zzgl zit
    """.split()
)
# May end a sentence ("... Birnen etc."), but usually do not.
_MAYBE_FINAL = frozenset(
    """
    Jan Feb Mär Apr Jun Jul Aug Sep Sept Okt Nov Dez
    Art Co Inc Jh Jhd Ltd Min Mio Mrd Std Tsd
    a.D e.V etc u.a u.ä usw u.v.m
    """.split()
)
_MONTHS = frozenset(
    "Januar Jänner Februar März April Mai Juni Juli August September Oktober November "
    "Dezember".split()
)
# Words that typically open a German (or English) sentence: after an ambiguous period
# ("etc.", "Mio.", an initial, an ordinal) they tip the decision towards a boundary.
_SENTENCE_OPENERS = frozenset(
    """
    Der Die Das Den Dem Des Ein Eine Einen Einem Einer Kein Keine
    Er Sie Es Wir Ich Ihr Man Dies Diese Dieser Dieses Damit Dabei Dafür Dagegen Daher
    Danach Dann Darauf Darüber Das Deshalb Denn Doch Aber Und Oder Auch Allerdings Außerdem
    Zudem Zwar Nun Jetzt Heute Gestern Morgen Bisher Bislang Inzwischen Trotzdem So Nur Noch
    Schon Mehr Alle Viele Wie Was Wer Wo Wann Warum Wenn Ob Als Weil Da Im In Am An Auf Aus
    Bei Mit Nach Laut Seit Vor Von Zum Zur Für Gegen Unter Über Während Trotz Hier Dort
    The This That These It He She We They I You A An But And In On At For
    """.split()
)
_TERMINAL = ".!?…"


def split_sentences(text: str) -> list[Span]:
    """Cut ``text`` into sentences: ``(start, end)`` spans into ``text``, in order.

    Spans carry no surrounding white space and together cover every non-space character.
    """
    spans: list[Span] = []
    for block_start, block_end in split_blocks(text):
        cut = block_start
        block = text[block_start:block_end]
        for match in _CANDIDATE.finditer(block):
            end = match.end()
            if match.group("signoff") is not None:
                _append_stripped(spans, text, cut, block_start + end)
                cut = block_start + end
                continue
            if end >= len(block) or not _is_boundary(block, match, cut - block_start):
                continue
            _append_stripped(spans, text, cut, block_start + end)
            cut = block_start + end
        _append_stripped(spans, text, cut, block_end)
    return spans


def split_blocks(text: str) -> list[Span]:
    """Paragraphs, headings and list items: the units no sentence may cross."""
    lines: list[Span] = []
    position = 0
    for line in text.splitlines(keepends=True):
        lines.append((position, position + len(line)))
        position += len(line)

    blocks: list[Span] = []
    block_start: int | None = None
    previous: str | None = None
    for start, end in lines:
        content = text[start:end]
        if not content.strip():
            if block_start is not None:
                blocks.append((block_start, start))
            block_start, previous = None, None
            continue
        if block_start is not None and previous is not None and _line_break_ends_block(previous, content):
            blocks.append((block_start, start))
            block_start = None
        if block_start is None:
            block_start = start
        previous = content
    if block_start is not None:
        blocks.append((block_start, len(text)))
    return blocks


def _line_break_ends_block(line: str, next_line: str) -> bool:
    if _MD_HEADING.match(line) or _MD_HEADING.match(next_line) or _LIST_ITEM.match(next_line):
        return True
    if _SETEXT_UNDERLINE.match(line):
        return True
    stripped = line.strip()
    if stripped[-1] in _TERMINAL + ",;:-–—/":
        return False
    # A line without final punctuation that is much shorter than the next is a headline,
    # not a soft wrap (wrapped prose lines are all about the same width).
    return len(stripped) < 50 or len(stripped) < 0.7 * len(next_line.strip())


def _is_boundary(block: str, match: re.Match[str], sentence_start: int) -> bool:
    """Whether the punctuation in ``match`` (followed by white space) ends a sentence."""
    next_word = _next_word(block, match.end())
    if not next_word:
        return True
    first = next_word[0]
    if first.islower():
        return False
    punct = match.group("punct")
    if punct != ".":
        return True  # "!", "?", "…", "..." before an upper-case word
    if match.group("closers"):
        return True  # `Seite."` or `(...).`: abbreviations do not close quotes

    period = match.start("punct")
    token = _token_before(block, max(sentence_start, period - _LOOKBACK), period).lstrip(_OPENERS)
    if not token:
        return True  # "leisten . Auch": a stray space before the period
    if token.isdigit() and not block[sentence_start:period - len(token)].strip():
        return False  # a list number: "2. Wie Erdoğan ..."
    if _ORDINAL_LIKE.fullmatch(token):
        if next_word in _MONTHS:
            return False  # "am 10. Januar"
        return next_word in _SENTENCE_OPENERS  # "im 21. Jahrhundert" vs "auf 150. Die"

    tail = _ABBREVIATION_TAIL.search(block, max(sentence_start, period - _LOOKBACK), period)
    if tail is None:
        return True
    pieces = re.sub(r"\s", "", tail.group(1)).split(".")
    if len(pieces[-1]) == 1 and _WORD_HEAD.match(next_word) and _starts_abbreviation(block, match.end()):
        return False  # "z. B.", "u. a.", "U. S." continue after the first letter
    kind = _abbreviation_kind(pieces)
    if kind == "never":
        return False
    if kind == "maybe" or len(pieces[-1]) == 1:  # "etc.", "Mio.", an initial "J."
        return next_word in _SENTENCE_OPENERS
    return True


def _abbreviation_kind(pieces: list[str]) -> str | None:
    """'never' / 'maybe' for a known abbreviation ending the piece list, else None."""
    for i in range(len(pieces)):
        key = ".".join(pieces[i:])
        for candidate in (key, key[:1].lower() + key[1:]):
            if candidate in _NEVER_FINAL:
                return "never"
            if candidate in _MAYBE_FINAL:
                return "maybe"
    return None


def _token_before(block: str, start: int, end: int) -> str:
    """The run of non-space characters ending at ``end`` (not reaching before ``start``)."""
    position = end
    while position > start and not block[position - 1].isspace():
        position -= 1
    return block[position:end]


def _starts_abbreviation(block: str, position: int) -> bool:
    """Whether the text at ``position`` (after white space) is a single letter and a period."""
    while position < len(block) and block[position].isspace():
        position += 1
    return block[position:position + 1].isalpha() and block[position + 1:position + 2] == "."


def _next_word(block: str, position: int) -> str:
    """The word after ``position``, past white space and opening quotes ("" at the end)."""
    while position < len(block) and (block[position].isspace() or block[position] in _OPENERS):
        position += 1
    word = _WORD_HEAD.match(block, position)
    return word.group() if word else block[position:position + 1]


def _append_stripped(spans: list[Span], text: str, start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        spans.append((start, end))
