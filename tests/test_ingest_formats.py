"""HTML and PDF ingestion: main text without boilerplate, titles, page numbers, refusals."""
import logging

import pytest

from embeddings.documents import load_corpus, load_document
from embeddings.formats import HIDDEN_METADATA, page_label, page_of
from embeddings.errors import QAError

PAGE = """<!DOCTYPE html>
<html lang="de"><head>
  <meta charset="utf-8">
  <title>Gespräche in Genf | Beispiel-Zeitung</title>
  <meta property="article:published_time" content="2025-09-04T14:07:00+02:00">
  <meta property="og:site_name" content="Beispiel-Zeitung">
  <style>body { color: red; }</style>
  <script>var tracking = "Kaufen Sie jetzt";</script>
</head><body>
  <header class="site-header"><a href="/">Startseite</a> <a href="/politik">Politik</a></header>
  <nav><ul><li>Ressort Politik</li><li>Ressort Sport</li></ul></nav>
  <div class="cookie-banner">Wir verwenden Cookies.</div>
  <article>
    <header><h1>USA und Russland verhandeln in Genf</h1></header>
    <p>GENF (dpa) - Die USA und Russland sprechen in <b>Genf</b> über
       Sicherheitsgarantien.<br>Die Gespräche beginnen am 9. Januar.</p>
    <div class="share-buttons">Teilen auf Facebook</div>
    <p>Mehr als 13&nbsp;000 Menschen sind im Donbass getötet worden.</p>
    <ul><li>Erster Punkt</li><li>Zweiter Punkt</li></ul>
  </article>
  <aside>Lesen Sie auch: Anderes Thema</aside>
  <footer>Impressum · Datenschutz</footer>
</body></html>
"""


def test_html_main_text_without_boilerplate(tmp_path):
    path = tmp_path / "genf.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load_document(path)
    assert doc.doc_id == "genf.html"
    assert doc.title == "USA und Russland verhandeln in Genf"
    assert doc.text.startswith("USA und Russland verhandeln in Genf\n\nGENF (dpa) - Die USA und Russland sprechen "
                               "in Genf über Sicherheitsgarantien.\nDie Gespräche beginnen am 9. Januar.\n\n")
    assert "13\u00a0000 Menschen" in doc.text and "Erster Punkt\n\nZweiter Punkt" in doc.text
    for boilerplate in ("Startseite", "Ressort", "Cookies", "tracking", "color", "Teilen", "Lesen Sie",
                        "Impressum", "Beispiel-Zeitung"):
        assert boilerplate not in doc.text, boilerplate
    assert doc.metadata["outlet"] == "dpa" and doc.metadata["place"] == "GENF"
    assert doc.metadata["date"] == "2025-09-04" and doc.metadata["site"] == "Beispiel-Zeitung"


def test_html_title_falls_back_to_title_tag_and_body_without_article(tmp_path):
    path = tmp_path / "plain.htm"
    path.write_bytes("<html><head><title>Nato-Gipfel</title><meta charset='iso-8859-1'></head>"
                     "<body><p>Der Gipfel berät über Waffen für die Ukraine.</p></body></html>".encode("latin-1"))
    doc = load_document(path)
    assert doc.title == "Nato-Gipfel"
    assert doc.text == "Der Gipfel berät über Waffen für die Ukraine.\n"
    assert "date" not in doc.metadata


def _pdf(pages, *, title=None):
    """A minimal valid PDF with one Helvetica text line per entry of ``pages`` (latin-1 text)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None,
               "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for lines in pages:
        ops = ["BT", "/F1 11 Tf", "72 760 Td", "14 TL"]
        for line in lines:
            escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
            ops.append(f"({escaped}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode("latin-1") + stream + b"\nendstream")
        content = len(objects)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {content} 0 R >>")
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    if title:
        objects.append(f"<< /Title ({title}) >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        body = body if isinstance(body, bytes) else body.encode("latin-1")
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    info = f" /Info {len(objects)} 0 R" if title else ""
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R{info} >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def test_pdf_text_per_page_with_page_numbers(tmp_path):
    path = tmp_path / "bericht.pdf"
    path.write_bytes(_pdf([["Sicherheitsgarantien für die Ukraine", "Die Gespräche in Genf beginnen."],
                           ["Mehr als 13 000 Menschen sind im Donbass getötet worden."],
                           ["Die Nato berät in Brüssel."]]))
    doc = load_document(path)
    assert doc.title == "Sicherheitsgarantien für die Ukraine"
    assert doc.metadata["pages"] == "3"
    assert "page_starts" in HIDDEN_METADATA
    for page, needle in ((1, "Genf"), (2, "13 000 Menschen"), (3, "Brüssel")):
        offset = doc.text.index(needle)
        assert page_of(doc, offset) == page, needle
    starts = [int(s) for s in doc.metadata["page_starts"].split(",")]
    assert doc.text[starts[1]:].startswith("Mehr als 13 000") and doc.text[starts[2]:].startswith("Die Nato")
    assert page_label(doc, starts[1], starts[2] - 2) == "page 2"
    assert page_label(doc, 0, len(doc.text)) == "pages 1-3"
    assert page_of(load_document(_write(tmp_path, "x.txt", "Eine Meldung.")), 0) is None


def test_pdf_title_from_its_metadata(tmp_path):
    path = tmp_path / "t.pdf"
    path.write_bytes(_pdf([["Erste Zeile des Textes."]], title="Der richtige Titel"))
    assert load_document(path).title == "Der richtige Titel"


def _write(folder, name, data):
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


@pytest.mark.parametrize("name, data, reason", [
    ("broken.pdf", b"%PDF-1.4\n1 0 obj << /Type /Catalog", "not a readable PDF"),
    ("fake.pdf", b"<html>no pdf at all</html>", "not a readable PDF"),
    ("scan.pdf", _pdf([[]]), "no text layer"),
    ("empty.html", b"<html><body><nav>Nur Navigation</nav><script>x()</script></body></html>", "empty HTML"),
    ("binary.html", b"<html>\x00\x01\x02</html>", "binary"),
    # far deeper than Python's recursion limit: read in linear time, no RecursionError
    ("deep.html", b"<div>" * 20_000 + b"Tief" + b"</div>" * 20_000, None),
])
def test_hostile_or_broken_files_are_refused_with_one_warning(tmp_path, caplog, name, data, reason):
    _write(tmp_path, "good.txt", "Eine Meldung.\n")
    _write(tmp_path, name, data)
    with caplog.at_level(logging.WARNING):
        docs = load_corpus(tmp_path, max_bytes=2_000_000)
    ids = [d.doc_id for d in docs]
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    if reason is None:
        assert ids == ["deep.html", "good.txt"] and not warnings
        assert docs[0].text == "Tief\n"
        return
    assert ids == ["good.txt"]
    assert len(warnings) == 1 and name in warnings[0] and reason in warnings[0]
    assert "\n" not in warnings[0]
    with pytest.raises(QAError, match=reason):
        load_document(tmp_path / name, max_bytes=2_000_000)


# ---- metadata for source cards: the original's link and a real title ----------------------

def _html_doc(tmp_path, head, body="<p>Die Allianz berät über die Ukraine. Mehr folgt.</p>", name="p.html"):
    path = tmp_path / name
    path.write_text(f"<html><head>{head}</head><body>{body}</body></html>", encoding="utf-8")
    return load_document(path)


def test_canonical_link_and_og_title(tmp_path):
    doc = _html_doc(tmp_path,
                    '<title>Gipfel | Beispiel-Zeitung</title>'
                    '<meta property="og:title" content="  Nato-Gipfel\n in Vilnius ">'
                    '<meta property="og:url" content="https://example.de/og">'
                    '<link rel="alternate" href="https://example.de/amp">'
                    '<link rel="canonical" href="https://example.de/politik/gipfel-101.html">'
                    '<meta property="og:site_name" content="Beispiel-Zeitung">',
                    body="<h1>Andere Überschrift</h1><p>Die Allianz berät.</p>")
    assert doc.title == "Nato-Gipfel in Vilnius"
    assert doc.metadata["title_source"] == "html"
    assert doc.metadata["url"] == "https://example.de/politik/gipfel-101.html"
    assert doc.metadata["outlet"] == "Beispiel-Zeitung"   # the site, when the text names no agency
    assert "og:title" not in doc.metadata


def test_og_url_when_the_canonical_link_is_unusable(tmp_path):
    for href in ("/politik/gipfel-101.html", "javascript:alert(1)", "data:text/html,<script>x</script>", ""):
        doc = _html_doc(tmp_path, f'<link rel="canonical" href="{href}">'
                                  '<meta property="og:url" content="https://example.de/og">')
        assert doc.metadata["url"] == "https://example.de/og", href
    doc = _html_doc(tmp_path, '<link rel="canonical" href="/relativ"><meta property="og:url" content="javascript:x()">')
    assert "url" not in doc.metadata


def test_title_sources_in_order_h1_then_title_tag_then_first_sentence(tmp_path):
    h1 = _html_doc(tmp_path, "<title>Seitentitel</title>", body="<h1>Schlagzeile</h1><p>Text.</p>")
    assert (h1.title, h1.metadata["title_source"]) == ("Schlagzeile", "heading")
    title = _html_doc(tmp_path, "<title> Seiten\ttitel </title>", body="<h1> </h1><p>Text.</p>")
    assert (title.title, title.metadata["title_source"]) == ("Seiten titel", "html")
    plain = _html_doc(tmp_path, "")
    assert (plain.title, plain.metadata["title_source"]) == ("Die Allianz berät über die Ukraine", "first_sentence")


def test_header_lines_in_the_text_win_over_markup(tmp_path):
    doc = _html_doc(tmp_path, '<meta property="og:title" content="Markup-Titel">'
                              '<link rel="canonical" href="https://example.de/markup">',
                    body="<p>Titel: Eigener Titel<br>URL: https://example.de/eigen</p><p>Text.</p>")
    assert doc.title == "Eigener Titel" and doc.metadata["title_source"] == "header"
    assert doc.metadata["url"] == "https://example.de/eigen"


def test_hostile_markup_gives_short_clean_metadata(tmp_path):
    huge = "Wort " * 400_000   # 2 MB in one attribute
    doc = _html_doc(tmp_path,
                    f'<meta property="og:title" content="{huge}">'
                    f'<link rel="canonical" href="https://example.de/{"a" * 1_000_000}">'
                    '<meta property="og:url" content="https://example.de/a b">',
                    body="<p>Text.</p>")
    assert len(doc.title) <= 142 and doc.title.endswith(" …")
    assert "url" not in doc.metadata
    nested = _html_doc(tmp_path, "<title>Gipfel <b>in <i>Vilnius</i></b></title>", body="<p>Text.</p>")
    assert nested.title == "Gipfel"
    broken = _html_doc(tmp_path, "<title>Gipfel", body="<p>Die Allianz berät.</p>")   # never closed
    assert broken.title == "Gipfel"
    script = _html_doc(tmp_path, "", body="<h1>Schlag<script>alert(1)</script>zeile</h1><p>Text.</p>")
    assert script.title == "Schlag zeile"


def test_pdf_title_source(tmp_path):
    path = tmp_path / "t.pdf"
    path.write_bytes(_pdf([["Erste Zeile des Textes."]], title="Der richtige Titel"))
    assert load_document(path).metadata["title_source"] == "pdf"
    path.write_bytes(_pdf([["Erste Zeile des Textes."]]))
    assert load_document(path).metadata["title_source"] == "first_sentence"
