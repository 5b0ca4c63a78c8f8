"""The chat's interface in a real Chromium (Debian's /usr/bin/chromium through playwright), over
the fakes of tests/test_browser_bugs.py: citation links with a preview, German by default with
an English switch, feedback under each answer, the export, keyboard access and contrast, and
the phone layout, and axe-core's WCAG AA checks. Set QA_SCREENSHOTS to a folder to keep screenshots of the pages."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from qa.settings import Settings
from qa.system import QASystem
from qa.web import app
from qa.answering.feedback import FeedbackLog, feedback_path
from tests.test_browser import BOT_MESSAGES, ask, browser, start_app  # noqa: F401
from tests.test_browser_bugs import (ASK_COUNCIL, ASK_GENEVA, corpus,  # noqa: F401
                                     open_page, pipeline, served, shot)

pytestmark = pytest.mark.browser

IN_PANEL_JS = """e => {
    let box = e.parentElement;
    while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowY)) box = box.parentElement;
    const shown = e.getBoundingClientRect(), frame = box.getBoundingClientRect();
    return shown.top >= frame.top && shown.bottom <= frame.bottom
        && shown.top >= 0 && shown.bottom <= window.innerHeight;
}"""


def test_a_citation_number_previews_its_sentence_and_opens_its_source(browser, served):
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_COUNCIL)
        page.locator("#qa-sources .qa-card").first.wait_for()
        first = page.locator(BOT_MESSAGES).last.locator("a.qa-cite").first
        first.hover()
        preview = page.locator("#qa-cite-preview")
        preview.wait_for(state="visible", timeout=5_000)
        assert "Die Sitzung des Nato-Russland-Rates ist am Mittwoch in Brüssel." in preview.inner_text()
        # the second citation by keyboard: focus shows its preview, Enter opens its card (and
        # not, after it, all the message's sources: the message handles Enter too)
        second = page.locator(BOT_MESSAGES).last.locator("a.qa-cite[href='#qa-cite-2']").first
        second.focus()
        assert "Genf" in preview.inner_text()
        second.press("Enter")
        active = page.locator("#qa-sources .qa-card-active")
        active.wait_for(timeout=10_000)
        assert active.get_attribute("id") == "qa-src-2"
        first.click()
        page.locator("#qa-src-1.qa-card-active").wait_for(timeout=10_000)
        mark = page.locator("#qa-src-1 mark.qa-answer")
        page.wait_for_timeout(300)  # the panel scrolls 50 ms after it changed
        assert mark.inner_text() == "Mittwoch" and mark.evaluate(IN_PANEL_JS)
        shot(page, "ui-citation")
        assert page.evaluate("location.hash") == ""  # the link did not navigate
        assert page.errors == []
    finally:
        context.close()


def test_the_interface_is_german_and_switches_to_english(browser, served):
    context, page = open_page(browser, served)
    try:
        assert page.evaluate("document.documentElement.lang") == "de"
        assert page.get_by_role("button", name="Fragen", exact=True).is_visible()
        # Gradio's own strings follow the page, not the browser (this one's locale is en-US)
        assert page.evaluate("navigator.language") == "en-US"
        page.get_by_text("Über API verwenden").wait_for(timeout=10_000)
        assert page.get_by_role("textbox", name="Ihre Frage").is_visible()  # a real label
        ask(page, ASK_COUNCIL)
        assert "Einschätzung: sicher" in page.locator(BOT_MESSAGES).last.inner_text()
        page.locator("#qa-language").click()
        page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=10_000)
        assert page.title() == "News QA · answers with sources"
        page.get_by_role("button", name="Ask", exact=True).wait_for(timeout=10_000)
        page.wait_for_function(f"""() => [...document.querySelectorAll("{BOT_MESSAGES}")].pop()
                                   .innerText.includes('Assessment: confident')""", timeout=10_000)
        assert "Open the full article" in page.locator("#qa-sources").inner_text()
        page.get_by_text("Use via API").wait_for(timeout=10_000)
        ask(page, ASK_GENEVA)
        assert "Assessment" in page.locator(BOT_MESSAGES).last.inner_text()
        shot(page, "ui-english")
        assert page.errors == []
    finally:
        context.close()
    context, page = open_page(browser, served)
    try:
        page.goto(served.local_url + "?lang=en")
        page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=10_000)
        page.get_by_role("textbox", name="Your question").wait_for(timeout=10_000)
        assert page.get_by_role("button", name="Deutsch", exact=True).is_visible()
    finally:
        context.close()


def test_a_wrong_answer_can_be_corrected_and_is_stored(browser, pipeline, tmp_path):
    settings = Settings().replace(index_dir=tmp_path / "index")
    served = start_app(app.ChatService(QASystem(settings, pipeline=pipeline)))
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_COUNCIL)
        page.locator(BOT_MESSAGES).last.hover()
        page.locator("#qa-chat").locator(  # Gradio's "Dislike", in German once its translations have loaded
            "button[aria-label='Dislike'], button[aria-label='Gefällt mir nicht']").last.click()
        page.locator("#qa-correct textarea, #qa-correct input").first.wait_for(timeout=10_000)
        assert "Als falsch gespeichert: „Mittwoch“" in page.locator("#qa-feedback").inner_text()
        page.locator("#qa-correct textarea, #qa-correct input").first.fill("am Mittwoch")
        page.locator("#qa-correct-send").click()
        page.get_by_text("Die richtige Antwort „am Mittwoch“ ist gespeichert").wait_for(timeout=10_000)
        entries = FeedbackLog(feedback_path(settings.index_dir)).entries()
        assert [(e.verdict, e.answer, e.correct_answer) for e in entries] == [
            ("wrong", "Mittwoch", None), ("wrong", "Mittwoch", "am Mittwoch")]
        assert entries[-1].question == ASK_COUNCIL
        assert page.errors == []
    finally:
        context.close()
        served.close()


def test_the_conversation_downloads_as_markdown_and_goes_when_the_page_closes(browser, pipeline):
    service = app.ChatService(QASystem(Settings(), pipeline=pipeline))
    served = start_app(service)
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_COUNCIL)
        button = page.locator("#qa-export")
        page.wait_for_function("() => !document.querySelector('#qa-export').disabled", timeout=10_000)
        with page.expect_download() as download:
            button.click()
        text = open(download.value.path(), encoding="utf-8").read()
        assert text.startswith("# Unterhaltung") and f"## 1. {ASK_COUNCIL}" in text
        assert "**Antwort:** Mittwoch" in text and "Einschätzung: sicher" in text
        assert len(list(service._exports.rglob("*.md"))) == 1
        context.close()  # the visitor leaves: Blocks.unload deletes their file
        deadline = time.monotonic() + 20
        while list(service._exports.rglob("*.md")) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert list(service._exports.rglob("*.md")) == []
    finally:
        context.close()
        served.close()


def test_messages_and_articles_are_reachable_and_readable_without_a_mouse(browser, served):
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_COUNCIL)
        bot = page.locator("#qa-chat [data-testid='bot']").first
        page.wait_for_function("""() => { const m = [...document.querySelectorAll("#qa-chat [data-testid='bot']")].pop();
                                          return m.getAttribute('aria-label').startsWith('Antwort: Mittwoch'); }""",
                               timeout=10_000)
        label = bot.get_attribute("aria-label")
        assert "**" not in label and "<a" not in label and "\\[" not in label
        assert bot.get_attribute("tabindex") == "0"
        ask(page, ASK_GENEVA)
        shown = """([selector, text]) => document.querySelector(selector)
                                        && document.querySelector(selector).innerText === text"""
        bot.focus()  # the first answer, by keyboard: Space (or Enter) shows its sources again
        bot.press(" ")
        page.wait_for_function(shown, arg=["#qa-sources mark.qa-answer", "Mittwoch"], timeout=10_000)
        last = page.locator("#qa-chat [data-testid='bot']").last
        last.focus()
        last.press("Enter")
        page.wait_for_function(shown, arg=["#qa-sources mark.qa-answer", "Genf"], timeout=10_000)
        page.get_by_role("tab", name="Alle Artikel").click()
        row = page.locator("#qa-documents .qa-doc-row").first
        row.focus()
        row.press("Enter")
        page.locator("#qa-article .qa-article-title").wait_for(timeout=10_000)
        assert page.errors == []
    finally:
        context.close()


AXE = Path(__file__).parent / "assets" / "axe.min.js"  # axe-core 4.14.1 (MPL-2.0), vendored
AXE_RUN_JS = """async () => {
    const result = await axe.run(document, {runOnly: {type: 'tag',
        values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}});
    return result.violations.map(v => ({rule: v.id, impact: v.impact,
        where: v.nodes.slice(0, 5).map(n => n.target.join(' ') + ': ' + n.failureSummary)}));
}"""


def axe_violations(page) -> list:
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(AXE_RUN_JS)


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("size", [(1400, 900), (390, 844)], ids=["desktop", "phone"])
def test_axe_finds_no_wcag_aa_violation(browser, served, scheme, size):
    """axe-core's WCAG 2.1 A/AA rules (contrast, labels, names, ARIA) over the page with an
    answer, its sources (Details open), the opened article and the article list."""
    width, height = size
    context, page = open_page(browser, served, color_scheme=scheme, viewport={"width": width, "height": height})
    try:
        ask(page, ASK_COUNCIL)
        page.locator("#qa-export").hover()  # a hovered button: white on indigo-500 was 4.46:1
        page.wait_for_timeout(400)  # Gradio's buttons fade to their hover colour
        found = {"hovered button": axe_violations(page)}
        page.locator("#qa-sources .qa-details summary").first.click()
        page.mouse.move(0, 0)
        page.wait_for_timeout(400)
        found["answer and sources"] = axe_violations(page)
        page.locator("#qa-sources .qa-open").first.click()
        page.locator("#qa-article #qa-passage").wait_for()
        found["article"] = axe_violations(page)
        page.get_by_role("tab", name="Alle Artikel").click()
        page.locator("#qa-documents .qa-doc-row").first.hover()
        found["article list"] = axe_violations(page)
        shot(page, f"ui-axe-{scheme}-{width}")
        assert not any(found.values()), found
    finally:
        context.close()


def test_on_a_phone_a_citation_brings_its_source_into_view(browser, served):
    context, page = open_page(browser, served, viewport={"width": 390, "height": 844},
                              is_mobile=True, has_touch=True)
    try:
        ask(page, ASK_COUNCIL)
        page.locator(BOT_MESSAGES).last.locator("a.qa-cite").first.tap()
        page.locator("#qa-src-1.qa-card-active").wait_for(timeout=10_000)
        page.wait_for_timeout(400)
        shot(page, "ui-phone-source", full_page=False)
        assert page.locator("#qa-src-1 mark.qa-answer").evaluate(IN_PANEL_JS)
        # back up to the chat, then a tap on the answer itself: its sources come into view too
        page.evaluate("window.scrollTo(0, 0)")
        ask(page, ASK_GENEVA)
        assert not page.locator("#qa-sources mark.qa-answer").first.evaluate(IN_PANEL_JS)  # no jump
        page.locator(BOT_MESSAGES).first.locator("strong").first.tap()
        page.wait_for_function("() => document.querySelector('#qa-src-1 mark.qa-answer')"
                               " && document.querySelector('#qa-src-1 mark.qa-answer').innerText === 'Mittwoch'",
                               timeout=10_000)
        page.wait_for_timeout(400)
        assert page.locator("#qa-src-1 mark.qa-answer").evaluate(IN_PANEL_JS)
        # a short passage: its card shows from its title down to the answer
        page.evaluate("window.scrollTo(0, 0)")
        page.locator(BOT_MESSAGES).last.locator("a.qa-cite").first.tap()
        page.wait_for_function("() => document.querySelector('.qa-card-active mark.qa-answer')"
                               " && document.querySelector('.qa-card-active mark.qa-answer').innerText === 'Genf'",
                               timeout=10_000)
        page.wait_for_timeout(400)
        shot(page, "ui-phone-short-source", full_page=False)
        assert page.locator(".qa-card-active mark.qa-answer").evaluate(IN_PANEL_JS)
        assert page.locator(".qa-card-active .qa-card-head").evaluate(IN_PANEL_JS)
    finally:
        context.close()


def test_a_source_card_links_to_the_original_the_article_names(browser, tmp_path):
    """An article with header lines (URL, Titel, Medium, Datum): its card shows them, the link
    opens a new tab without a referrer, and the file name and offsets wait behind Details."""
    from qa.system import QASystem
    from tests.fakes import FakePipeline, FakeReader, fake_documents
    from tests.test_browser_bugs import answer_for

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "rat.txt").write_text(
        "URL: https://www.example.de/politik/nato-rat-101.html\nTitel: Der Nato-Russland-Rat tagt\n"
        "Medium: Beispiel-Zeitung\nDatum: 11.01.2022\n\n"
        "Die Sitzung des Nato-Russland-Rates ist am Mittwoch in Brüssel.\n", encoding="utf-8")
    pipeline = FakePipeline(fake_documents(corpus), reader=FakeReader(answer_for=answer_for))
    served = start_app(app.ChatService(QASystem(Settings(), pipeline=pipeline)))
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_COUNCIL)
        card = page.locator("#qa-src-1")
        assert card.locator(".qa-title").inner_text() == "Der Nato-Russland-Rat tagt"
        assert "Beispiel-Zeitung · 2022-01-11" in card.locator(".qa-meta").inner_text()
        link = card.locator("a.qa-original")
        assert link.get_attribute("href") == "https://www.example.de/politik/nato-rat-101.html"
        assert (link.get_attribute("target"), link.get_attribute("rel")) == ("_blank", "noopener noreferrer")
        details = card.locator(".qa-details")
        assert not details.locator(".qa-details-body").is_visible()
        details.locator("summary").click()
        assert "rat.txt" in details.inner_text() and details.locator(".qa-details-body").is_visible()
        assert page.locator("#qa-article .qa-article-title").count() == 0  # Details opened no article
        shot(page, "ui-card-link")
        assert page.errors == []
    finally:
        context.close()
        served.close()
