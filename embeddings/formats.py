"""HTML and PDF articles → plain text with a title hint and metadata hints.

HTML: the main text of the page (the longest ``<article>``, else ``<main>``, else ``<body>``)
with boilerplate dropped (scripts, styles, navigation, headers without the headline, footers,
asides, forms, cookie/share/related boxes); block elements become paragraphs. The title is
``og:title``, else the first ``<h1>``, else ``<title>`` (which often carries the site's name);
the original's link is ``<link rel="canonical">``, else ``og:url`` (absolute http(s) links
only, see :func:`clean_url`). Parsed with BeautifulSoup's pure-Python ``html.parser``.

PDF: the text layer of each page (pypdf), pages joined by a blank line. ``metadata["pages"]``
holds the page count and ``metadata["page_starts"]`` the document offset where each page
starts, so ``page_of(doc, offset)`` can name the page of any citation.
"""
from __future__ import annotations

import datetime as dt
import io
import logging
import re
from bisect import bisect_right
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from embeddings.errors import QAError

log = logging.getLogger(__name__)

# Metadata kept for code (page map), not for people: hidden from listings and search output.
HIDDEN_METADATA = frozenset({"page_starts", "body_start"})
MAX_PDF_PAGES = 2000
# A news page has a few thousand tags; html.parser builds about 1 KB of tree per tag, so
# 100 000 tags cost ~2 s and ~100 MB, and 5 MB of "<div>" (450 000) would cost 8-14 s and 335 MB.
MAX_HTML_TAGS = 100_000
_START_TAG = re.compile(rb"<[A-Za-z]")  # counted before parsing: an upper bound on the elements

_PARAGRAPH, _LINE = "\ue000", "\ue001"  # private-use markers for block and <br> breaks
_DROP_TAGS = ("script", "style", "noscript", "template", "svg", "math", "iframe", "object", "embed",
              "canvas", "form", "button", "input", "select", "textarea", "nav", "footer", "aside",
              "dialog", "menu")
_BLOCK_TAGS = frozenset("""address article blockquote dd details div dl dt fieldset figcaption figure
h1 h2 h3 h4 h5 h6 header hr li main ol p pre section summary table tbody thead tfoot tr ul caption""".split())
_CELL_TAGS = frozenset({"td", "th"})
_BOILERPLATE = re.compile(
    r"(?:^|[\s_-])(?:cookie|consent|advert|ads?|banner|newsletter|share|sharing|social|related|"
    r"comments?|breadcrumbs?|subscribe|promo|sidebar|navigation|navbar|paywall|skip-link)(?:$|[\s_-])",
    re.IGNORECASE)
_BOILERPLATE_ROLES = frozenset({"navigation", "banner", "contentinfo", "complementary", "search", "dialog"})
# A link longer than this is no article address (browsers cope with 2 000; sitemaps cap at 2 048).
URL_MAX_CHARS = 2048
_URL_FORBIDDEN = re.compile(r"[\x00-\x20\x7f-\x9f\\<>\"'`{}|^]")
# A host name of dot-separated labels (letters of any script, digits, "-", "_"), or an IPv6 address.
_HOST = re.compile(r"(?:\w(?:[\w-]{0,61}\w)?\.)*\w(?:[\w-]{0,61}\w)?\.?|[0-9a-f:.]+:[0-9a-f:.]*")
_DATE_META = ("article:published_time", "datepublished", "date", "pubdate", "publish-date",
              "dc.date", "dc.date.issued", "og:published_time")


@dataclass(frozen=True, slots=True)
class ExtractedText:
    """Text pulled out of a rich file, plus what its markup says about title and metadata."""

    text: str
    title: str = ""
    # Where ``title`` came from: "html" (og:title, <title>), "heading" (<h1>), "pdf" (its info).
    title_source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)


def clean_url(value: object) -> str | None:
    """``value`` as the link to an article, or ``None``: an absolute ``http(s)`` URL with a
    host name, at most URL_MAX_CHARS, without white space, quotes, angle brackets or control
    characters and without user credentials (``https://bank.example@evil.example/``).
    ``javascript:``, ``data:``, relative and protocol-relative links are refused."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    if not url or len(url) > URL_MAX_CHARS or _URL_FORBIDDEN.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is no number or out of range
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host or "@" in parts.netloc:
        return None
    return url if _HOST.fullmatch(host) else None


# ---- HTML -------------------------------------------------------------------------------

def html_article(data: bytes, *, source: object) -> ExtractedText:
    """The main text of an HTML page; QAError naming ``source`` when there is none."""
    try:
        from bs4 import BeautifulSoup
    except ImportError:  # pragma: no cover - a requirement
        raise QAError("reading .html needs beautifulsoup4; run `pip install -r requirements.txt`") from None
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise QAError(f"{source}: binary file (contains NUL bytes), not an HTML page")
    tags = len(_START_TAG.findall(data))
    if tags > MAX_HTML_TAGS:
        raise QAError(f"{source}: HTML with {tags:,} tags is more than {MAX_HTML_TAGS:,} "
                      "(too large or too deeply nested to be an article); save the article as text")
    try:
        soup = BeautifulSoup(data, "html.parser")
        metadata = _html_metadata(soup)
        title, title_source = _html_title(soup, og_title=metadata.pop("og:title", ""))
        lengths = _text_lengths(soup)
        root = _main_element(soup, lengths)
        text = _block_text(root, lengths)
    except RecursionError:
        raise QAError(f"{source}: HTML nested too deeply to read; save the article as text") from None
    if not text.strip():
        raise QAError(f"{source}: empty HTML page (no readable text outside navigation and scripts)")
    return ExtractedText(text=text, title=title, title_source=title_source, metadata=metadata)


def _clean(text: str) -> str:
    return re.sub(r"[ \t\n\r\f]+", " ", text.replace(_PARAGRAPH, " ").replace(_LINE, " ")).strip()


def _html_title(soup, *, og_title: str) -> tuple[str, str]:
    """The page's title and where it came from: og:title (an editor's headline), the first
    ``<h1>``, ``<title>`` (last: it often ends in " | Site name"); ("", "") when none has text."""
    if og_title:
        return og_title, "html"
    h1 = soup.find("h1")
    if h1 is not None and _clean(h1.get_text(" ")):
        return _clean(h1.get_text(" ")), "heading"
    # <title> holds text only; tags inside it mean it was never closed ("<title>Gipfel<body>...").
    title = _clean("".join(soup.title.find_all(string=True, recursive=False))) if soup.title else ""
    return (title, "html") if title else ("", "")


def _html_metadata(soup) -> dict[str, str]:
    """Date, site, author and the original's link from ``<meta>`` and ``<link rel=canonical>``
    (og:title too, under its own key, for :func:`_html_title`)."""
    metadata: dict[str, str] = {}
    for link in soup.find_all("link"):
        rel = link.get("rel") or []
        rels = rel.split() if isinstance(rel, str) else rel
        if "canonical" in {str(r).lower() for r in rels}:
            url = clean_url(link.get("href"))
            if url is not None:
                metadata["url"] = url
                break
            log.debug("ignoring canonical link %.80r: not an absolute http(s) URL", link.get("href"))
    for meta in soup.find_all("meta"):
        key = str(meta.get("property") or meta.get("name") or meta.get("itemprop") or "").strip().lower()
        content = str(meta.get("content") or "").strip()
        if not key or not content:
            continue
        if key == "og:url":
            url = clean_url(content)
            if url is not None:
                metadata.setdefault("url", url)   # a canonical link, read first, wins
            continue
        if key == "og:title":
            metadata.setdefault("og:title", _clean(content))
            continue
        content = _clean(content)
        if key in _DATE_META and "date" not in metadata:
            try:
                metadata["date"] = dt.date.fromisoformat(content[:10]).isoformat()
            except ValueError:
                pass  # not an ISO date: say nothing rather than guess
        elif key == "og:site_name":
            metadata.setdefault("site", content[:80])
            metadata.setdefault("outlet", content[:80])   # the article's own dateline wins
        elif key == "author" and not content.startswith("http"):
            metadata.setdefault("author", content[:80])
    return metadata


def _text_lengths(soup) -> dict[int, int]:
    """``len(tag.get_text())`` of every tag by ``id(tag)``, in one pass: asking each tag of a
    page nested 50 000 levels deep would cost time quadratic in the depth."""
    from bs4 import Tag

    counted = Tag.MAIN_CONTENT_STRING_TYPES  # what get_text() counts: text and CDATA, not comments
    lengths: dict[int, int] = {}
    stack: list[tuple[object, bool]] = [(soup, False)]
    while stack:
        tag, leaving = stack.pop()
        if leaving:
            lengths[id(tag)] = sum(lengths[id(c)] if isinstance(c, Tag) else len(c) * (type(c) in counted)
                                   for c in tag.contents)
            continue
        stack.append((tag, True))
        stack.extend((child, False) for child in tag.contents if isinstance(child, Tag))
    return lengths


def _main_element(soup, lengths: dict[int, int]):
    articles = soup.find_all("article")
    if articles:
        return max(articles, key=lambda a: lengths[id(a)])
    for candidate in (soup.find("main"), soup.find(attrs={"role": "main"}), soup.body):
        if candidate is not None:
            return candidate
    return soup


def _is_boilerplate(tag) -> bool:
    if tag.attrs is None:
        return False
    if tag.get("hidden") is not None or tag.get("aria-hidden") == "true":
        return True
    if (tag.get("role") or "").lower() in _BOILERPLATE_ROLES:
        return True
    names = " ".join(tag.get("class") or []) + " " + str(tag.get("id") or "")
    return bool(_BOILERPLATE.search(names))


def _block_text(root, lengths: dict[int, int]) -> str:
    """The text under ``root`` without boilerplate, block elements as paragraphs.

    An explicit stack instead of recursion and no tree edits: a hostile page nested 100 000
    levels deep costs linear time and no RecursionError.
    """
    from bs4 import NavigableString, Tag
    from bs4.element import CData, Comment, Declaration, Doctype, ProcessingInstruction

    skip_strings = (Comment, CData, Declaration, Doctype, ProcessingInstruction)
    # Boxes holding the headline or the story are never dropped, whatever their class says.
    keep = set()
    for anchor in root.find_all(("h1", "article", "main")):
        node = anchor
        while node is not None and id(node) not in keep:
            keep.add(id(node))
            node = node.parent
    total = lengths[id(root)]
    out: list[str] = []
    stack: list[tuple[object, bool]] = [(child, False) for child in reversed(root.contents)]
    while stack:
        node, leaving = stack.pop()
        if isinstance(node, Tag):
            name = node.name
            if leaving:
                out.append(_PARAGRAPH if name in _BLOCK_TAGS else " " if name in _CELL_TAGS else "")
                continue
            if name == "br":
                out.append(_LINE)
                continue
            if name in _DROP_TAGS or _dropped_box(node, keep, total, lengths):
                continue
            if name in _BLOCK_TAGS:
                out.append(_PARAGRAPH)
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
        elif isinstance(node, NavigableString) and not isinstance(node, skip_strings):
            out.append(str(node).replace(_PARAGRAPH, " ").replace(_LINE, " "))
    # HTML white space is ASCII only: a no-break space (&nbsp;, "13&nbsp;000") stays in the text.
    flat = re.sub(r"[ \t\n\r\f]+", " ", "".join(out))
    flat = flat.replace(_LINE, "\n").replace(_PARAGRAPH, "\n\n")
    lines = [line.strip(" ") for line in flat.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def _dropped_box(tag, keep: set[int], total: int, lengths: dict[int, int]) -> bool:
    if id(tag) in keep:
        return False
    if tag.name == "header":
        return True  # a page header (the story's own header holds the h1 and is kept)
    if not _is_boilerplate(tag):
        return False
    # A class like "with-sidebar" on a wrapper must not take the story with it.
    return lengths[id(tag)] < total / 2


# ---- PDF --------------------------------------------------------------------------------

def pdf_article(data: bytes, *, source: object) -> ExtractedText:
    """The text layer of a PDF, page by page, with the page map; QAError when unreadable."""
    try:
        from pypdf import PdfReader
        from pypdf.errors import PyPdfError
    except ImportError:  # pragma: no cover - a requirement
        raise QAError("reading .pdf needs pypdf; run `pip install -r requirements.txt`") from None
    # pypdf logs every repaired glitch of a broken file; our one WARNING line says enough.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise QAError(f"{source}: the PDF is password-protected; save an unprotected copy")
        count = len(reader.pages)
        if count > MAX_PDF_PAGES:
            raise QAError(f"{source}: {count} pages is more than {MAX_PDF_PAGES}; split the PDF into articles")
        pages = [_pdf_page_text(page.extract_text() or "") for page in reader.pages]
        info = reader.metadata
        title = _clean(str(info.title)) if info is not None and info.title else ""
    except QAError:
        raise
    except (PyPdfError, Exception) as error:  # noqa: BLE001 - a hostile file can raise anything
        reason = f"{type(error).__name__}: {error}".strip()[:160]
        raise QAError(f"{source}: not a readable PDF (broken or unsupported: {reason})") from None
    starts, parts, offset = [], [], 0
    for text in pages:
        starts.append(offset)
        parts.append(text)
        offset += len(text) + 2
    full = "\n\n".join(parts)
    if not full.strip():
        raise QAError(f"{source}: the PDF has no text layer (a scan?); run OCR on it or save it as text")
    metadata = {"pages": str(len(pages)), "page_starts": ",".join(map(str, starts))}
    return ExtractedText(text=full, title=title, title_source="pdf" if title else "", metadata=metadata)


def _pdf_page_text(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n ")


def page_of(doc, offset: int) -> int | None:
    """The 1-based PDF page holding ``doc.text[offset]``, or ``None`` for documents without pages."""
    if doc is None:
        return None
    starts = doc.metadata.get("page_starts")
    if not starts:
        return None
    offsets = [int(s) for s in starts.split(",")]
    return max(bisect_right(offsets, offset), 1)


def page_label(doc, start: int, end: int) -> str | None:
    """"page 3" or "pages 3-4" for the span ``start:end`` of a paged document, else ``None``."""
    first = page_of(doc, start)
    if first is None:
        return None
    last = page_of(doc, max(start, end - 1))
    return f"page {first}" if last == first else f"pages {first}-{last}"
