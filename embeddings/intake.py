"""New articles from people, not folders: safe corpus file names for uploads and pasted
texts, and the checks an upload must pass before the loader reads it."""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from embeddings.documents import MAX_BYTES, SUPPORTED_SUFFIXES
from embeddings.errors import QAError
from embeddings.formats import clean_url

# Articles people upload: the loader's own suffixes and size limit, not copies of them.
ARTICLE_SUFFIXES = SUPPORTED_SUFFIXES
MAX_ARTICLE_BYTES = MAX_BYTES
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
MAX_TITLE_CHARS = 200
FILE_STEM_CHARS = 60
_TRANSLITERATE = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                                "Ü": "Ue"})


def article_file_name(name: str, *, suffix: str = ".txt") -> str:
    """A safe, stable file name for the corpus folder from a title or an uploaded file's name:
    ASCII letters, digits and dashes only ("../../etc/passwd" -> "etc-passwd.txt"), so it can
    never leave the folder, hide itself (leading dot) or clash in case. Letters without an ASCII
    spelling (Cyrillic, Chinese, ...) are not dropped silently: a short hash of the whole name
    keeps "новости" and "新闻" apart ("article-1c1f0b6e.txt", "article-5f0e3c1a.txt")."""
    stem = unicodedata.normalize("NFKD", name.translate(_TRANSLITERATE))
    lost = any(unicodedata.category(ch).startswith(("L", "N")) and not ch.isascii() for ch in stem)
    stem = stem.encode("ascii", "ignore").decode("ascii").lower()
    stem = re.sub(r"[^a-z0-9]+", "-", stem).strip("-")[:FILE_STEM_CHARS].rstrip("-")
    if lost:
        digest = hashlib.sha1(unicodedata.normalize("NFC", name).encode("utf-8")).hexdigest()[:8]
        stem = f"{stem or 'article'}-{digest}"
    return f"{stem or 'article'}{suffix.lower()}"


def free_name(folder: Path, name: str, content: bytes, *, replace: bool) -> tuple[str, str | None]:
    """The name an article gets in the corpus ``folder``, and a note when it is not ``name``.

    ``name`` when no article has it, when the article there has the same bytes (nothing to
    do), or when ``replace`` asks to update it; otherwise the first free "stem-2.txt",
    "stem-3.txt", ...: an upload never replaces another article unless asked to ("Über die
    Nato" and "Ueber die Nato" both spell ueber-die-nato.txt)."""
    target = Path(folder) / name
    if replace or not target.exists() or _same_bytes(target, content):
        return name, None
    stem, suffix = Path(name).stem, Path(name).suffix
    for number in range(2, 10_000):
        candidate = f"{stem}-{number}{suffix}"
        path = Path(folder) / candidate
        if not path.exists() or _same_bytes(path, content):
            return candidate, (f"an article named {name} is already in the corpus, so this one is saved "
                               f"as {candidate}; to update {name} instead, tick \"Replace the article of "
                               "the same name\"")
    raise QAError(f"too many articles named like {name}; give this one another title or file name")


def _same_bytes(path: Path, content: bytes) -> bool:
    try:
        return path.stat().st_size == len(content) and path.read_bytes() == content
    except OSError:
        return False


def pasted_article(title: object, text: object, url: object = "") -> tuple[str, str]:
    """(file name, file content) for an article pasted with a title and, optionally, the link
    to where it was published; QAError when the title or text is missing, the text too large
    or the link no http(s) address. The title becomes the first line, which the loader reads
    as the headline; the link a "URL:" header line above it."""
    title = " ".join(_CONTROL.sub(" ", title).split()) if isinstance(title, str) else ""
    text = normalise_article_text(text if isinstance(text, str) else "")
    url = url.strip() if isinstance(url, str) else ""
    if not title:
        raise QAError("Bitte einen Titel angeben. / Please give the article a title.", key="title_missing")
    if len(title) > MAX_TITLE_CHARS:
        raise QAError(f"The title has {len(title)} characters; keep it under {MAX_TITLE_CHARS}.",
                      key="title_too_long", chars=len(title), limit=MAX_TITLE_CHARS)
    if not text.strip():
        raise QAError("Bitte den Text des Artikels einfügen. / Please paste the article's text.",
                      key="text_missing")
    header = ""
    if url:
        link = clean_url(url)
        if link is None:
            raise QAError(f"{url[:80]!r} is no link to the article: give its http(s) address "
                          "(https://www.example.org/artikel) or leave the field empty.",
                          key="bad_link", value=url[:80])
        header = f"URL: {link}\n"
    content = f"{header}{title}\n\n{text.strip()}\n"
    size = len(content.encode("utf-8"))
    if size > MAX_ARTICLE_BYTES:
        raise QAError(f"The text is {size / 1e6:.1f} MB; articles may have at most "
                      f"{MAX_ARTICLE_BYTES / 1e6:.0f} MB. Split it into articles.",
                      key="text_too_big", mb=size / 1e6, limit=MAX_ARTICLE_BYTES / 1e6)
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
                      f"upload {', '.join(ARTICLE_SUFFIXES)} files.",
                      key="upload_type", name=shown, suffixes=", ".join(ARTICLE_SUFFIXES))
    try:
        size = path.stat().st_size
        with path.open("rb") as file:
            head = file.read(8192)
    except OSError as error:
        raise QAError(f"{shown}: the upload could not be read ({error.strerror or error}); "
                      "try again.") from None
    if size > MAX_ARTICLE_BYTES:
        raise QAError(f"{shown} is {size / 1e6:.1f} MB; articles may have at most "
                      f"{MAX_ARTICLE_BYTES / 1e6:.0f} MB. Split it into articles.",
                      key="upload_too_big", name=shown, mb=size / 1e6, limit=MAX_ARTICLE_BYTES / 1e6)
    if not head.strip():
        raise QAError(f"{shown} is empty.", key="upload_empty", name=shown)
    if suffix == ".pdf":
        if not head.lstrip(b"\x00\t\n\r ").startswith(b"%PDF-"):
            raise QAError(f"{shown} is not a PDF (no %PDF header); upload the real PDF or "
                          "save the article as text.", key="not_pdf", name=shown)
    elif b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise QAError(f"{shown} is a binary file, not a text article; upload .txt, .md, "
                      ".html or .pdf.", key="binary", name=shown)
    return article_file_name(Path(shown).stem, suffix=".html" if suffix == ".htm" else suffix)

