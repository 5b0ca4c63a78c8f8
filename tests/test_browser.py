"""The chat in a real Chromium (Debian's /usr/bin/chromium, driven by playwright).

- a hostile article and a hostile question render as literal text and run nothing
  (fake pipeline: the point is rendering, not answering);
- a seed question on the real models shows the answer, its citation, the highlighted source
  and the whole article scrolled to the passage (also marked slow).
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

from qa.settings import REPO_ROOT, Settings
from qa.system import QASystem
from qa.web import app
from qa.web import page as web_page
from tests.fakes import FakePipeline, FakeReader, fake_documents, fake_system

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PAYLOAD = "<script>window.__pwned=1</script>"
IMG = '<img src=x onerror="window.__pwned=1">'
HOSTILE_ARTICLE = f"""{PAYLOAD} Alarm im Testartikel

Die Hauptstadt der Testrepublik heißt Zebrastadt {PAYLOAD}. Der Text enthält {IMG} sowie \
[einen Link](javascript:window.__pwned=1), ![ein Bild](x.png), **fett**, `code` und \
<a href="javascript:window.__pwned=1">einen Anker</a>.

Ein harmloser Absatz zum Schluss.
"""
HOSTILE_QUESTION = f"Was steht über Zebrastadt? **fett** [x](javascript:window.__pwned=1) {IMG}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_app(service: app.ChatService):
    blocks = web_page.build_app(service)
    web_page.launch(blocks, host="127.0.0.1", port=_free_port(), prevent_thread_lock=True)
    return blocks


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    yield page
    page.close()


BOT_MESSAGES = "#qa-chat .message.bot"


def wait_for_answer(page, before: int) -> None:
    """Until a new assistant message is there and is no longer Gradio's pending bubble."""
    page.wait_for_function(
        f"""() => {{
            const messages = document.querySelectorAll('{BOT_MESSAGES}');
            const last = messages[messages.length - 1];
            return messages.length > {before} && last.querySelector('.message-content')
                && !last.innerText.includes('Loading content');
        }}""", timeout=120_000)


def ask(page, question: str) -> None:
    before = page.locator(BOT_MESSAGES).count()
    box = page.locator("#qa-question textarea")
    box.fill(question)
    box.press("Enter")
    wait_for_answer(page, before)


def assert_inert(page) -> None:
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator('img[src="x"]').count() == 0
    assert page.locator('a[href^="javascript"]').count() == 0


def test_hostile_article_and_question_render_as_text(page, tmp_path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "hostile.txt").write_text(HOSTILE_ARTICLE, encoding="utf-8")
    shutil.copy(REPO_ROOT / "seeds" / "003_01742ba1c49b300e.txt", corpus)
    reader = FakeReader(answer_for=lambda question: PAYLOAD)
    service = app.ChatService(QASystem(Settings(), pipeline=FakePipeline(fake_documents(corpus), reader=reader)))
    blocks = start_app(service)
    try:
        page.goto(blocks.local_url)
        ask(page, HOSTILE_QUESTION)
        bot = page.locator(BOT_MESSAGES).last
        user_text = page.locator("#qa-chat .message.user").last.inner_text()
        assert "**fett** [x](javascript:window.__pwned=1)" in user_text and IMG in user_text
        assert bot.locator("strong").first.inner_text() == PAYLOAD  # the answer, literally
        assert bot.locator("script, img, a:not(.qa-cite)").count() == 0
        assert all(href.startswith("#qa-cite-") for href in bot.locator("a").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"))

        sources = page.locator("#qa-sources")
        assert sources.locator("mark.qa-answer").first.inner_text() == PAYLOAD
        assert IMG in sources.inner_text() and "[einen Link](javascript:" in sources.inner_text()

        sources.locator(".qa-open").first.click()
        article = page.locator("#qa-article")
        article.locator("#qa-passage").wait_for()
        assert "![ein Bild](x.png)" in article.inner_text()
        assert '<a href="javascript:window.__pwned=1">einen Anker</a>' in article.inner_text()

        page.get_by_role("tab", name="Alle Artikel").click()
        titles = page.locator("#qa-documents .qa-doc-title").all_inner_texts()
        assert any(PAYLOAD in title for title in titles)
        page.locator("#qa-documents .qa-doc-row").first.click()
        page.wait_for_timeout(500)
        assert_inert(page)
        assert page.errors == []
    finally:
        blocks.close()


def test_empty_and_huge_questions_get_a_friendly_message(page):
    service = app.ChatService(QASystem(Settings(), pipeline=FakePipeline(fake_documents(REPO_ROOT / "seeds"))))
    blocks = start_app(service)
    try:
        page.goto(blocks.local_url)
        page.locator("#qa-question textarea").fill("x" * 10_000)
        page.locator("#qa-ask").click()
        wait_for_answer(page, 0)
        assert "Die Frage ist 10" in page.locator(BOT_MESSAGES).last.inner_text()
        page.locator("#qa-ask").click()  # empty box: nothing breaks, no traceback
        page.wait_for_timeout(500)
        assert "Traceback" not in page.content() and page.errors == []
    finally:
        blocks.close()


def upload_file(page, selector: str, path: Path, *, attempts: int = 3) -> None:
    """Choose ``path`` in a gr.File; again if the component was still mounting and missed it."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for attempt in range(attempts):
        page.locator(f"{selector} input[type=file]").set_input_files(str(path))
        try:
            page.locator(selector).get_by_text(path.name).wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == attempts - 1:
                raise


NEW_TITLE = "Zebrastadt wird Hauptstadt <script>window.__pwned=1</script>"
NEW_TEXT = ("Die Testrepublik hat eine neue Hauptstadt: Zebrastadt. Das Parlament beschloss den "
            f"Umzug am Montag. {IMG}")


def test_pasting_an_article_makes_it_answerable_at_once(page, tmp_path):
    """Paste an article in "Add an article", then ask what only it can answer (real index
    over the fake embedder, BM25 retrieval); a fake PDF upload is refused in the page."""
    corpus = tmp_path / "corpus"
    shutil.copytree(REPO_ROOT / "seeds", corpus)
    reader = FakeReader(answer_for=lambda question: "Zebrastadt")
    service = app.ChatService(fake_system(corpus, tmp_path / "index", reader=reader, mode="bm25"))
    blocks = start_app(service)
    try:
        page.goto(blocks.local_url)
        assert "4 Artikel" in page.locator("#qa-status").inner_text()
        assert "BM25-Suche · Index flat" in page.locator("#qa-status").inner_text()
        page.locator("#qa-add").get_by_text("Artikel hinzufügen").click()

        fake_pdf = tmp_path / "bericht.pdf"
        fake_pdf.write_bytes(b"<html><script>window.__pwned=1</script></html>")
        page.locator("#qa-add-text textarea").wait_for()  # the accordion's content is mounted
        upload_file(page, "#qa-add-file", fake_pdf)
        page.locator("#qa-add-button").click()
        page.locator("#qa-add-result .qa-add-error").wait_for()
        assert "bericht.pdf ist kein PDF" in page.locator("#qa-add-result").inner_text()  # in the page's language
        # Gradio's "Clear", in German once its translations have loaded ("Löschen")
        page.locator("#qa-add-file").locator("button[aria-label='Clear'], button[aria-label='Löschen']").click()

        page.locator("#qa-add-title textarea, #qa-add-title input").first.fill(NEW_TITLE)
        page.locator("#qa-add-url textarea, #qa-add-url input").first.fill("https://www.example.org/zebrastadt")
        page.locator("#qa-add-text textarea").fill(NEW_TEXT)
        page.locator("#qa-add-button").click()
        page.locator("#qa-add-result .qa-add-ok").wait_for()
        assert page.locator("#qa-add-url textarea, #qa-add-url input").first.input_value() == ""  # cleared
        assert "Hinzugefügt" in page.locator("#qa-add-result").inner_text()
        assert NEW_TITLE in page.locator("#qa-add-result").inner_text()  # literally
        assert "5 Artikel" in page.locator("#qa-status").inner_text()
        assert "Zebrastadt" in page.locator("#qa-article").inner_text()  # opened in the inspector

        ask(page, "Wie heißt die neue Hauptstadt der Testrepublik?")
        bot = page.locator(BOT_MESSAGES).last
        assert bot.locator("strong").first.inner_text() == "Zebrastadt"
        assert "Zebrastadt wird Hauptstadt" in bot.inner_text()  # cited: the pasted article
        assert page.locator("#qa-sources mark.qa-answer").first.inner_text() == "Zebrastadt"
        link = page.locator("#qa-sources a.qa-original").first  # the pasted link, on its source card
        assert link.get_attribute("href") == "https://www.example.org/zebrastadt"
        if os.environ.get("QA_SCREENSHOTS"):
            page.screenshot(path=str(Path(os.environ["QA_SCREENSHOTS"]) / "ui-pasted-with-link.png"), full_page=True)
        page.get_by_role("tab", name="Alle Artikel (5)").click()
        assert any(NEW_TITLE in t for t in page.locator("#qa-documents .qa-doc-title").all_inner_texts())
        assert (corpus / "zebrastadt-wird-hauptstadt-script-window-pwned-1-script.txt").is_file()
        assert_inert(page)
        assert page.errors == []
    finally:
        blocks.close()


@pytest.fixture(scope="module")
def real_service(tmp_path_factory):
    settings = Settings.from_env().replace(index_dir=tmp_path_factory.mktemp("index"))
    return app.ChatService(QASystem.load(settings, show_progress=False))


@pytest.mark.slow
def test_seed_question_on_the_real_models(page, real_service):
    blocks = start_app(real_service)
    try:
        page.goto(blocks.local_url)
        page.get_by_role("button", name="Wie viele Menschen sind im Donbass getötet worden?").click()
        wait_for_answer(page, 0)
        bot = page.locator(BOT_MESSAGES).last
        assert "13 000" in bot.inner_text() and "[1]" in bot.inner_text()
        assert bot.locator("strong").first.inner_text().endswith("13 000")

        highlight = page.locator("#qa-sources mark.qa-answer").first
        assert highlight.inner_text().endswith("13 000")
        assert highlight.evaluate("e => getComputedStyle(e).backgroundColor") != "rgba(0, 0, 0, 0)"

        page.locator("#qa-sources .qa-open").first.click()
        mark = page.locator("#qa-article #qa-passage mark.qa-answer")
        mark.wait_for()
        assert mark.inner_text() == highlight.inner_text()
        page.wait_for_timeout(600)
        # scrolled into view inside the article panel
        visible = mark.evaluate("""e => {
            const box = e.getBoundingClientRect();
            let c = e.parentElement;
            while (c && !['auto', 'scroll'].includes(getComputedStyle(c).overflowY)) c = c.parentElement;
            const frame = c.getBoundingClientRect();
            return c.scrollTop > 0 && box.top >= frame.top && box.bottom <= frame.bottom;
        }""")
        assert visible

        ask(page, "Und wann?")
        assert "Verstanden als" in page.locator(BOT_MESSAGES).last.inner_text()
        assert page.errors == []
    finally:
        blocks.close()
