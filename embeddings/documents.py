"""Articles on disk become Documents with a stable id, a title and honest metadata."""
from __future__ import annotations

import datetime as dt
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from embeddings.errors import QAError
from embeddings.formats import clean_url
from embeddings.sentences import split_sentences

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Document:
    """One article. ``doc_id`` is the file name; offsets everywhere point into ``text``."""

    doc_id: str
    title: str
    text: str
    metadata: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))


SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".pdf")
_RICH_SUFFIXES = (".html", ".htm", ".pdf")  # text extracted by embeddings.formats
MAX_BYTES = 5_000_000
# Longer first sentences are cut at a word boundary and end in "…" when used as a title.
TITLE_MAX_CHARS = 140
# Metadata is read from the article's head only, never from its body.
_HEAD_LINES = 4
# Bumped whenever what a file yields (title, metadata) changes for the same bytes: an index
# records it (embeddings/indexing.py) and reads every file again once when it differs.
METADATA_VERSION = 3

# Metadata key: where the article's text begins after Markdown front matter and header lines
# (a document offset, as a string). The chunker starts there: those lines are no passage.
BODY_START = "body_start"

# Header lines: "Key: value" lines at the very top of an article (or in Markdown front matter)
# that say what it is. Keys are matched in any case; "Quelle"/"Source" is the link when its
# value is a URL, else the outlet. The lines stay in the text (offsets point into the file as
# published); they are only not taken for the headline or the first sentence.
_HEADER_KEYS = {
    "url": "url", "link": "url", "quelle": "source", "source": "source",
    "title": "title", "titel": "title", "headline": "title", "überschrift": "title",
    "outlet": "outlet", "medium": "outlet",
    "date": "date", "datum": "date",
    "author": "author", "autor": "author", "autorin": "author",
}
_HEADER_LINE = re.compile(r"(?P<key>[A-Za-zÄÖÜäöüß]{2,12})[ \t]*:[ \t]*(?P<value>.*)")
_MAX_HEADER_LINES = 12
_NAME_MAX_CHARS = 80   # an outlet's or author's name

# News agencies: "Von dpa" names the outlet, "Von Anna Muster" only an author.
_AGENCIES = frozenset(
    "dpa dpa-afx afp ap reuters kna epd sid apa sda keystone-sda dts bloomberg".split()
)  # compared in lower case
# "WASHINGTON/KIEW (dpa-AFX) - US-Präsident ...": the place line and the outlet.
# The outlet must be a known agency, so "Die Organisation (OSZE) - ..." is no dateline.
_DATELINE = re.compile(
    r"(?P<place>[A-ZÄÖÜ][\w.'-]*(?:[ /](?:am |an der |im |bei )?[A-ZÄÖÜ][\w.'-]*){0,3})"
    r" \((?P<outlet>[\w./-]{2,24})\) [-–—] "
)
# "Von dpa Aktualisiert am 04.09.2025 - 14:07 Uhr Lesedauer: 4 Min."
_BYLINE = re.compile(
    r"Von (?P<author>[^\n]{1,60}?)"
    r"(?= (?:Aktualisiert|Veröffentlicht|Erstellt) am | am \d{1,2}\.\d{1,2}\.\d{4}|\s*$)"
)
_NAME_CONNECTORS = frozenset({"und", "von", "van", "de", "der", "zu", "and", "/", ","})
# A date is metadata only with a publication label or inside a byline, never from the story.
_DATE = re.compile(
    r"(?:(?P<label>Aktualisiert|Veröffentlicht|Erstellt) )?am (?P<day>\d{1,2})\.(?P<month>\d{1,2})\."
    r"(?P<year>\d{4})(?: ?[-–,]? ?(?P<time>\d{1,2}:\d{2}) Uhr)?"
)
_READING_TIME = re.compile(r"Lesedauer: (?P<value>\d{1,3} Min\.)")
# "(neu: Weitere Aussagen ...)": an agency's editorial note above the story.
_EDITORIAL_NOTE = re.compile(
    r"\((?P<note>(?:[Nn]eu|[Aa]ktualisiert|Wiederholung|Berichtigung|Korrektur)\b[^()\n]*)\)"
)
_MD_HEADING = re.compile(r"#{1,6}\s+(?P<text>.+?)\s*#*\s*")
_MD_FRONT_MATTER = re.compile(r"---\n(?P<body>.*?\n)---\n", re.DOTALL)


def load_corpus(folder: Path | str, *, max_bytes: int = MAX_BYTES,
                unchanged: Mapping[str, Document] | None = None) -> list[Document]:
    """Every usable ``.txt``/``.md``/``.html``/``.pdf`` article in ``folder`` (or the one file ``folder``).

    Only regular files are read, and a link only to a regular file inside ``folder``; unusable
    files (FIFOs, devices, links out, too large, ...) are skipped with one WARNING each; hidden
    files and sub-folders are ignored. ``unchanged``: files known not to have changed since
    (see :func:`corpus_snapshot`), by name, with their Document: not read again. Raises
    QAError when the path does not exist or nothing usable is left.
    """
    unchanged = unchanged or {}
    path = Path(folder)
    if not path.exists():
        raise QAError(
            f"corpus folder {path} does not exist; pass a folder of .txt/.md articles "
            "(for example seeds/) or set QA_CORPUS_DIR"
        )
    if not path.is_dir():
        return [load_document(path, max_bytes=max_bytes)]

    documents = []
    for file in sorted(path.iterdir(), key=lambda p: p.name):
        if file.name.startswith(".") or file.is_dir():
            log.debug("ignoring %s (hidden file or folder)", file)
            continue
        if file.name in unchanged:
            documents.append(unchanged[file.name])
            continue
        try:
            documents.append(load_document(file, max_bytes=max_bytes, folder=path))
        except QAError as error:
            log.warning("skipping %s", error)
    if not documents:
        raise QAError(
            f"corpus folder {path} holds no usable article (need UTF-8 .txt or .md, .html or .pdf files; "
            "see the warnings above for skipped files); add articles or pass another folder"
        )
    return documents


def corpus_snapshot(folder: Path | str) -> dict[str, list[int]]:
    """Name → [size, mtime in ns] of every entry :func:`load_corpus` looks at (visible, not a
    folder; a link by its target), from ``stat`` alone: comparing two snapshots tells which
    files may have changed without reading any. Empty for a missing folder or a single file."""
    path = Path(folder)
    if not path.is_dir():
        return {}
    snapshot: dict[str, list[int]] = {}
    with os.scandir(path) as entries:
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir():
                    continue
                info = entry.stat()
            except OSError:      # a broken link, removed meanwhile: load_corpus says why
                continue
            snapshot[entry.name] = [info.st_size, info.st_mtime_ns]
    return dict(sorted(snapshot.items()))


def load_document(path: Path | str, *, max_bytes: int = MAX_BYTES, folder: Path | str | None = None) -> Document:
    """One article as a Document; QAError naming the file and the reason if unusable.

    Only a regular file is read (a link to one is followed; with ``folder``, only to one inside
    ``folder``), and at most ``max_bytes``: a FIFO, a device or a growing file never blocks
    or fills the memory.
    """
    path = Path(path)
    if path.suffix.lower() in _RICH_SUFFIXES:
        return _load_rich(path, max_bytes=max_bytes, folder=folder)
    text = _read_text(path, max_bytes=max_bytes, folder=folder)
    is_markdown = path.suffix.lower() == ".md"
    title, metadata = _describe(text, is_markdown=is_markdown, source=path)
    return _document(path, title, text, metadata)


def _document(path: Path, title: str, text: str, metadata: dict[str, str]) -> Document:
    """The Document, titled by its file name when nothing better was found."""
    if not title:
        title, metadata["title_source"] = path.stem, "file_name"
    return Document(doc_id=path.name, title=title, text=text, metadata=MappingProxyType(metadata))


def normalise_newlines(text: str) -> str:
    """Windows and old-Mac line ends become "\\n", so offsets agree on every platform."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def check_regular_file(path: Path | str, *, folder: Path | str | None = None) -> Path:
    """The path to open for ``path``: itself, or for a link the regular file it points to.

    QAError in one line naming ``path`` and why it is not read: a FIFO, a device, a socket, a
    folder, a broken link, or (with ``folder``) a link to a file outside ``folder``.
    """
    path = Path(path)
    try:
        mode = path.lstat().st_mode
        if not stat.S_ISLNK(mode):
            kind = _special_kind(mode)
            if kind:
                raise QAError(f"{path}: {kind}, not a regular file; only regular article files are read")
            return path
        try:
            target = path.resolve(strict=True)
        except FileNotFoundError:
            raise QAError(f"{path}: a broken link (to {os.readlink(path)}); "
                          "fix or remove it") from None
        except RuntimeError:  # a loop of links (Python 3.13 raises OSError ELOOP instead)
            raise QAError(f"{path}: a link in a loop of links; remove it") from None
        kind = _special_kind(target.stat().st_mode)
        if kind:
            raise QAError(f"{path}: a link to {kind} ({target}), not to a regular file; "
                          "only regular article files are read")
        if folder is not None and not target.is_relative_to(Path(folder).resolve()):
            raise QAError(f"{path}: a link to a file outside the corpus folder ({target}); "
                          f"copy the file into {folder} instead")
        return target
    except OSError as error:
        raise QAError(f"{path}: cannot be read ({error.strerror or error}); check its permissions") from None


def _special_kind(mode: int) -> str:
    """"a FIFO (named pipe)", "a device", ... for a file that is no regular file, else ""."""
    if stat.S_ISREG(mode):
        return ""
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


# Never block on a FIFO or become a device's controlling terminal; never follow a link that
# replaced the checked file (the flags a platform lacks are 0).
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
               | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))


def _load_rich(path: Path, *, max_bytes: int, folder: Path | str | None) -> Document:
    """An HTML page or a PDF: extracted text, its markup's title, then the text's own metadata."""
    from embeddings import formats

    data = _read_bytes(path, max_bytes=max_bytes, folder=folder)
    extract = formats.pdf_article if path.suffix.lower() == ".pdf" else formats.html_article
    extracted = extract(data, source=path)
    text = normalise_newlines(extracted.text)
    title, metadata = _describe(text, is_markdown=False, source=path)
    for key, value in extracted.metadata.items():
        metadata.setdefault(key, value)  # the article's own head lines win over markup hints
    if extracted.title and metadata.get("title_source") != "header":
        title, metadata["title_source"] = _shorten(extracted.title), extracted.title_source
    return _document(path, title, text, metadata)


def _read_bytes(path: Path, *, max_bytes: int, folder: Path | str | None = None) -> bytes:
    """The file's bytes: checked to be a regular file and its size before it is opened, then
    read without blocking and never more than ``max_bytes`` (a size can lie: /proc, growing files)."""
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise QAError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; "
                      f"only {', '.join(SUPPORTED_SUFFIXES)} articles are read")
    source = check_regular_file(path, folder=folder)
    try:
        _check_size(path, source.stat().st_size, max_bytes)
        fd = os.open(source, _OPEN_FLAGS)
        try:
            opened = os.fstat(fd)  # what was opened, should the file have been swapped meanwhile
            kind = _special_kind(opened.st_mode)
            if kind:
                raise QAError(f"{path}: {kind}, not a regular file; only regular article files are read")
            _check_size(path, opened.st_size, max_bytes)
            parts, left = [], max_bytes + 1
            while left > 0:
                part = os.read(fd, min(left, 1 << 20))
                if not part:
                    break
                parts.append(part)
                left -= len(part)
        finally:
            os.close(fd)
    except OSError as error:
        raise QAError(f"{path}: cannot be read ({error.strerror or error}); check its permissions") from None
    data = b"".join(parts)
    if len(data) > max_bytes:
        raise QAError(f"{path}: file is too large (more than {max_bytes:,} bytes); split it into articles")
    return data


def _check_size(path: Path, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise QAError(f"{path}: file is too large ({size:,} bytes > {max_bytes:,}); split it into articles")


def _read_text(path: Path, *, max_bytes: int, folder: Path | str | None = None) -> str:
    data = _read_bytes(path, max_bytes=max_bytes, folder=folder)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"  # Windows "Unicode" text: the BOM makes it unambiguous
    elif b"\x00" in data:
        raise QAError(f"{path}: binary file (contains NUL bytes), not a text article")
    else:
        encoding = "utf-8-sig"  # a UTF-8 BOM is dropped, not kept as U+FEFF in the text
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as error:
        if encoding == "utf-16":
            where, name = str(path), "UTF-16"
        else:
            line = data.count(b"\n", 0, error.start) + 1
            where, name = f"{path}:{line}", "UTF-8"
        raise QAError(f"{where}: not valid {name} (byte {error.start}); re-save the file as UTF-8") from None
    text = normalise_newlines(text)
    if not text.strip():
        raise QAError(f"{path}: empty file (nothing but white space)")
    return text


def _describe(text: str, *, is_markdown: bool, source: object = "article") -> tuple[str, dict[str, str]]:
    """The headline and the metadata the article's first lines reveal (``title_source`` says
    where the headline came from; "" when there is none). ``source`` names the file in warnings."""
    metadata: dict[str, str] = {}
    title, title_source = "", ""
    body, body_start = text, 0
    if is_markdown:
        front = _MD_FRONT_MATTER.match(text)
        if front:
            body, body_start = text[front.end():], front.end()
            title = _read_header_lines(front.group("body").split("\n"), metadata, where=f"{source}: front matter")
    lines = body.split("\n")
    header_end = _header_block_end(lines)
    title = _read_header_lines(lines[:header_end], metadata, where=f"{source}: header line") or title
    body_start += sum(len(line) + 1 for line in lines[:header_end])
    if 0 < body_start < len(text) and text[body_start:].strip():
        metadata[BODY_START] = str(body_start)   # the front matter and header lines are not passages
    if title:
        title_source = "header"
    lines = lines[header_end:]
    content = [line.strip() for line in lines if line.strip()]
    found: dict[str, str] = {}
    for line in content[:_HEAD_LINES]:
        _read_head_line(line, found)
    metadata = {**found, **metadata}   # an explicit header line wins over a dateline or byline
    if not title:
        title, title_source = _title([line.strip() for line in lines], is_markdown=is_markdown)
    if title_source:
        metadata["title_source"] = title_source
    return title, metadata


def _header_block_end(lines: list[str]) -> int:
    """How many of ``lines`` form the header block: known ``Key: value`` lines at the very
    top (blank lines before and between them allowed), at most _MAX_HEADER_LINES of them."""
    end, headers = 0, 0
    for index, line in enumerate(lines[:4 * _MAX_HEADER_LINES]):
        if not line.strip():
            continue
        match = _HEADER_LINE.fullmatch(line.strip())
        if match is None or match.group("key").lower() not in _HEADER_KEYS or headers == _MAX_HEADER_LINES:
            break
        headers += 1
        end = index + 1
    return end


def _read_header_lines(lines: list[str], metadata: dict[str, str], *, where: str) -> str:
    """Fill ``metadata`` from the ``Key: value`` lines with a key of _HEADER_KEYS (others, as in
    front matter, are passed over); the title, or "". A value that cannot be right (a link that
    is no http(s) URL, a date that is no date) is dropped with a warning."""
    title = ""
    for line in lines:
        match = _HEADER_LINE.fullmatch(line.strip())
        if match is None:
            continue
        key, value = match.group("key").lower(), " ".join(match.group("value").split()).strip("\"'")
        kind = _HEADER_KEYS.get(key)
        if kind is None or not value:
            continue
        if kind == "source":   # "Quelle: https://..." is the link, "Quelle: dpa" the outlet
            kind = "url" if re.match(r"[a-z][a-z0-9+.-]*:", value, re.IGNORECASE) else "outlet"
        if kind == "title":
            title = title or _shorten(value)
        elif kind == "url":
            url = clean_url(value)
            if url is None:
                log.warning("ignoring %s %s: %.80r is not an absolute http(s) link", where, key, value)
            else:
                metadata.setdefault("url", url)
        elif kind == "date":
            day = _header_date(value)
            if day is None:
                log.warning("ignoring %s %s: %.40r is not a date (use 2025-09-04 or 04.09.2025)",
                            where, key, value)
            else:
                metadata.setdefault("date", day)
        else:   # outlet, author: names, kept short
            metadata.setdefault(kind, _shorten(value, limit=_NAME_MAX_CHARS))
    return title


def _header_date(value: str) -> str | None:
    """"2025-09-04", "2025-09-04T14:07:00+02:00" or "4.9.2025" as an ISO date; None otherwise."""
    german = re.fullmatch(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ ,-]+\d{1,2}:\d{2}(?: Uhr)?)?", value)
    try:
        if german:
            return dt.date(int(german.group(3)), int(german.group(2)), int(german.group(1))).isoformat()
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?", value):
            return dt.date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        pass
    return None


def _read_head_line(line: str, metadata: dict[str, str]) -> None:
    note = _EDITORIAL_NOTE.fullmatch(line)
    if note and "note" not in metadata:
        metadata["note"] = note.group("note").strip()
        return
    dateline = _dateline(line)
    if dateline and "place" not in metadata:
        metadata["place"] = dateline.group("place")
        metadata.setdefault("outlet", dateline.group("outlet"))
    author = _byline_author(line)
    if author and "author" not in metadata:
        metadata["author"] = author
        if author.lower() in _AGENCIES:
            metadata.setdefault("outlet", author)
    # A date counts in a byline or after a publication label at the start of a line.
    date = _DATE.search(line) if author else _DATE.match(line)
    if date is None or not (author or date.group("label")):
        return
    if "date" not in metadata:
        try:
            day = dt.date(int(date.group("year")), int(date.group("month")), int(date.group("day")))
        except ValueError:
            return  # "am 31.02.2025" is not a date: say nothing rather than guess
        metadata["date"] = day.isoformat()
        if date.group("time"):
            metadata["time"] = date.group("time")
    reading = _READING_TIME.search(line)
    if reading:
        metadata.setdefault("reading_time", reading.group("value"))


def _title(lines: list[str], *, is_markdown: bool) -> tuple[str, str]:
    """The headline and where it came from: a Markdown heading or a headline line ("heading":
    a line of its own, one sentence, not ending in "."), else the first sentence
    ("first_sentence"), passing over editorial notes, bylines and a dateline's place; ("", "")
    when the text has none. ``lines``: the text's stripped lines after any header lines."""
    content = [line for line in lines if line]
    if is_markdown:
        for line in content[:_HEAD_LINES]:
            heading = _MD_HEADING.fullmatch(line)
            if heading:
                return _shorten(heading.group("text")), "heading"
    for index, line in enumerate(lines):
        if not line or _EDITORIAL_NOTE.fullmatch(line) or _byline_author(line):
            continue
        after = lines[index + 1] if index + 1 < len(lines) else ""
        if is_markdown and re.fullmatch(r"=+|-+", after):
            return _shorten(line), "heading"  # a setext heading ("Title\n=====")
        heading = _MD_HEADING.fullmatch(line) if is_markdown else None
        if heading:
            line = heading.group("text")
        dateline = _dateline(line)
        if dateline:
            line = line[dateline.end():]
        spans = split_sentences(line)
        if not spans:
            continue
        start, end = spans[0]
        if (not dateline and not after and len(spans) == 1 and len(line) <= TITLE_MAX_CHARS
                and not line.rstrip().endswith((".", ",", ";", ":"))):
            return _shorten(line), "heading"
        return _shorten(line[start:end]), "first_sentence"
    return "", ""


def _dateline(line: str) -> re.Match[str] | None:
    match = _DATELINE.match(line)
    if match and all(part.lower() in _AGENCIES for part in match.group("outlet").split("/")):
        return match
    return None


def _byline_author(line: str) -> str:
    """The author of a byline ("Von dpa", "Von Anna Muster und Jan Beispiel"), else ""."""
    match = _BYLINE.match(line)
    if match is None:
        return ""
    author = match.group("author").strip()
    words = author.replace(",", " , ").replace("/", " / ").split()
    if all(w.lower() in _AGENCIES or w in _NAME_CONNECTORS or w[:1].isupper() for w in words):
        return author
    return ""


def _shorten(sentence: str, *, limit: int = TITLE_MAX_CHARS) -> str:
    """White space made single spaces, a final period dropped, and at most ``limit`` characters
    (cut at a word, ending in " …")."""
    sentence = " ".join(sentence.split())
    if sentence.endswith(".") and not sentence.endswith(".."):
        sentence = sentence[:-1].rstrip()
    if len(sentence) <= limit:
        return sentence
    cut = sentence.rfind(" ", 0, limit)
    head = sentence[: cut if cut > 0 else limit].rstrip(" ,;:-–—")
    return head + " …"

