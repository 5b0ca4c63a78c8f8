"""The chat's reproduced bugs of issue 16, each driven in a real Chromium (Debian's
/usr/bin/chromium through playwright) over fakes, so each runs in seconds:

1. the Chatbot's own trash icon starts a new conversation (follow-ups, sources);
2. the copy button copies the readable answer, not its escaped Markdown;
3. titles in the article list keep their commas;
4. dark mode: highlights, the hovered row and "open the article" stay readable;
5. on a phone the opened article shows the highlighted answer, not just the passage start;
6. the chat column does not move or widen when the first answer arrives;
7. an empty question adds nothing to the chat and shows a hint;
8. two questions sent back to back (50 ms apart, or in one moment) are both answered, each
   under its own question.

Set QA_SCREENSHOTS to a folder to keep a screenshot of each test's page there.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from qa.settings import Settings
from qa.system import QASystem
from qa.web import app
from tests.fakes import FakePipeline, FakeReader, fake_documents
from tests.test_browser import BOT_MESSAGES, ask, browser, start_app, wait_for_answer  # noqa: F401

pytestmark = pytest.mark.browser

TITLE = "Gipfel, Gespräche und Garantien"
GENEVA = "Die Gespräche der USA mit Russland finden in Genf statt, teilte das Außenministerium mit."
FILLER = ("Die Delegationen bereiteten sich lange auf das Treffen vor, und viele Beobachter "
          "erwarteten zunächst wenig. ")
COUNCIL = "Die Sitzung des Nato-Russland-Rates ist am Mittwoch in Brüssel."
# One long paragraph (one passage of the fake retriever) with the answer at its very end, so
# the passage starts far above the answer on a phone.
LONG_PARAGRAPH = FILLER * 14 + COUNCIL
ARTICLE = "\n\n".join([TITLE, GENEVA, LONG_PARAGRAPH] + [FILLER * 10] * 8) + "\n"
ASK_GENEVA = "Wo finden die Gespräche der USA mit Russland statt?"
ASK_COUNCIL = "Wann ist die Sitzung des Nato-Russland-Rates?"
USER_MESSAGES = "#qa-chat [data-testid='user']"
BOT_BUBBLES = "#qa-chat [data-testid='bot']"


def answer_for(question: str) -> str | None:
    if "Gespräche" in question:
        return "Genf"
    if "Sitzung" in question:
        return "Mittwoch"
    return None


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "gipfel.txt").write_text(ARTICLE, encoding="utf-8")
    return folder


@pytest.fixture
def pipeline(corpus):
    return FakePipeline(fake_documents(corpus), reader=FakeReader(answer_for=answer_for))


@pytest.fixture
def served(pipeline):
    blocks = start_app(app.ChatService(QASystem(Settings(), pipeline=pipeline)))
    yield blocks
    blocks.close()


def open_page(browser, served, **context_options):
    context = browser.new_context(**({"viewport": {"width": 1400, "height": 900}, "locale": "en-US"} | context_options))
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(served.local_url)
    page.locator("#qa-question textarea").wait_for()
    return context, page


def shot(page, name: str, *, full_page: bool = True) -> None:
    folder = os.environ.get("QA_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=full_page)


def last_bot_text(page) -> str:
    return page.locator(BOT_MESSAGES).last.inner_text()


# --------------------------------------------------------------------------- 1. the trash icon


def test_the_chats_trash_icon_starts_a_new_conversation(browser, served, pipeline):
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_GENEVA)
        assert page.locator("#qa-sources mark.qa-answer").first.inner_text() == "Genf"
        # Gradio's "Clear", in German once its translations have loaded
        page.locator("#qa-chat").locator("button[aria-label='Clear'], button[aria-label='Chat leeren']").click()
        page.wait_for_timeout(500)
        assert page.locator(BOT_BUBBLES).count() == 0
        assert "Noch keine Quellen" in page.locator("#qa-sources").inner_text()

        ask(page, "Und wann?")  # nothing to follow up on any more
        assert not pipeline.calls[-1]["history"]
        assert "Verstanden als" not in last_bot_text(page)
        ask(page, ASK_COUNCIL)
        assert pipeline.calls[-1]["history"] == ["Und wann?"]
        page.get_by_role("tab", name="Alle Artikel").click()
        page.locator(BOT_BUBBLES).nth(1).click()  # the new answer: its own sources
        page.locator("#qa-sources mark.qa-answer").first.wait_for(timeout=5_000)
        assert page.locator("#qa-sources mark.qa-answer").first.inner_text() == "Mittwoch"
        shot(page, "1-trash")
        assert page.errors == []
    finally:
        context.close()


# --------------------------------------------------------------------------- 2. copying


def test_the_copy_button_copies_the_readable_answer(browser, served):
    context, page = open_page(browser, served)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served.local_url.rstrip("/"))
    try:
        question = "Wo finden die Gespräche *der USA* mit Russland statt? [x]"
        ask(page, question)
        page.locator(BOT_BUBBLES).last.hover()
        copy_buttons = page.locator("#qa-chat .message-buttons button[aria-label='Copy message']")
        copy_buttons.last.click()
        copied = page.evaluate("navigator.clipboard.readText()")
        shot(page, "2-copy")
        assert copied.startswith("Genf [1]\nEinschätzung: ")
        assert "\\" not in copied and "**" not in copied and "&" not in copied
        assert "Quellen:" in copied and f"[1] {TITLE}" in copied

        page.locator(USER_MESSAGES).last.hover()
        copy_buttons.first.click()
        assert page.evaluate("navigator.clipboard.readText()") == question
        assert page.errors == []
    finally:
        context.close()


# --------------------------------------------------------------------------- 3. commas in titles


def test_the_article_list_keeps_commas_in_titles(browser, served, corpus):
    context, page = open_page(browser, served)
    try:
        page.get_by_role("tab", name="Alle Artikel").click()
        row = page.locator("#qa-documents .qa-doc-row").first
        assert row.locator(".qa-doc-title").inner_text() == TITLE
        words = len(ARTICLE.split())
        assert words > 1000
        assert row.locator(".qa-num-cell").inner_text() == f"{words:,}".replace(",", "\u202f")
        shot(page, "3-list")
    finally:
        context.close()


# --------------------------------------------------------------------------- 4. dark mode

CONTRAST_JS = """e => {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = 1;
    const ctx = canvas.getContext('2d', {willReadFrequently: true});
    const rgba = (color) => {
        ctx.clearRect(0, 0, 1, 1);
        ctx.fillStyle = '#000';
        ctx.fillStyle = color;
        ctx.fillRect(0, 0, 1, 1);
        const [r, g, b, a] = ctx.getImageData(0, 0, 1, 1).data;
        return [r, g, b, a / 255];
    };
    const over = (top, bottom) => top.slice(0, 3).map((c, i) => c * top[3] + bottom[i] * (1 - top[3]));
    const layers = [];
    for (let node = e; node; node = node.parentElement) {
        const color = rgba(getComputedStyle(node).backgroundColor);
        if (color[3] > 0) layers.push(color);
        if (color[3] >= 1) break;
    }
    let background = [255, 255, 255];
    for (const layer of layers.reverse()) background = over(layer, background);
    const text = over(rgba(getComputedStyle(e).color), background);
    const luminance = (rgb) => {
        const [r, g, b] = rgb.map(c => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [hi, lo] = [luminance(text), luminance(background)].sort((a, b) => b - a);
    return {ratio: (hi + 0.05) / (lo + 0.05), text, background};
}"""


def contrast(locator) -> tuple[float, dict]:
    """The contrast ratio of an element's text on its (composited) background, and the colours."""
    measured = locator.evaluate(CONTRAST_JS)
    return round(measured["ratio"], 2), measured


@pytest.mark.parametrize("how", ["system", "url"])
def test_dark_mode_keeps_highlights_rows_and_links_readable(browser, served, how):
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  color_scheme="dark" if how == "system" else "light")
    page = context.new_page()
    try:
        page.goto(served.local_url + ("?__theme=dark" if how == "url" else ""))
        page.locator("#qa-question textarea").wait_for()
        assert page.evaluate("document.body.classList.contains('dark')")
        ask(page, ASK_COUNCIL)
        checked = {
            "answer highlight in a source": page.locator("#qa-sources mark.qa-answer").first,
            "passage text in a source": page.locator("#qa-sources .qa-passage").first,
            "open the full article": page.locator("#qa-sources .qa-open").first,
            "citation number": page.locator("#qa-sources .qa-num").first,
        }
        page.locator("#qa-sources .qa-open").first.click()
        page.locator("#qa-article mark.qa-answer").wait_for()
        page.wait_for_timeout(400)
        shot(page, f"4-dark-article-{how}")
        checked["passage highlight in the article"] = page.locator("#qa-article #qa-passage")
        checked["answer highlight in the article"] = page.locator("#qa-article mark.qa-answer")
        ratios = {name: contrast(locator) for name, locator in checked.items()}

        page.get_by_role("tab", name="Alle Artikel").click()
        row = page.locator("#qa-documents .qa-doc-row").first
        row.hover()
        page.wait_for_timeout(200)
        shot(page, f"4-dark-list-{how}")
        ratios["hovered article row"] = contrast(row.locator(".qa-doc-title"))
        low = {name: r for name, r in ratios.items() if r[0] < 4.5}
        assert not low, low
    finally:
        context.close()


# --------------------------------------------------------------------------- 5. phone


def test_on_a_phone_the_opened_article_shows_the_answer_below_its_title(browser, served):
    context, page = open_page(browser, served, viewport={"width": 390, "height": 844},
                              is_mobile=True, has_touch=True)
    try:
        ask(page, ASK_COUNCIL)
        page.locator("#qa-sources .qa-open").first.click()
        mark = page.locator("#qa-article #qa-passage mark.qa-answer")
        mark.wait_for()
        page.wait_for_timeout(800)
        shot(page, "5-phone", full_page=False)
        where = mark.evaluate("""e => {
            let panel = e.parentElement;
            while (panel && !['auto', 'scroll'].includes(getComputedStyle(panel).overflowY)) panel = panel.parentElement;
            const box = e.getBoundingClientRect(), frame = panel.getBoundingClientRect();
            const head = panel.querySelector('.qa-article-head').getBoundingClientRect();
            return {top: box.top, bottom: box.bottom, frameTop: frame.top, frameBottom: frame.bottom,
                    headBottom: head.bottom, windowHeight: window.innerHeight};
        }""")
        assert where["top"] >= where["headBottom"], where  # not under the sticky title
        assert where["bottom"] <= where["frameBottom"], where  # not below the panel's end
        assert 0 <= where["top"] and where["bottom"] <= where["windowHeight"], where  # on screen
    finally:
        context.close()


# --------------------------------------------------------------------------- 6. stable layout


def test_the_chat_column_keeps_its_place_when_the_first_answer_arrives(browser, served):
    context, page = open_page(browser, served)
    try:
        column = "e => { const c = e.closest('.column'); const b = c.getBoundingClientRect(); return [b.x, b.width]; }"
        page.wait_for_timeout(500)
        before = page.locator("#qa-chat").evaluate(column)
        side_before = page.locator("#qa-inspector").evaluate(column)
        ask(page, ASK_COUNCIL)
        page.wait_for_timeout(300)
        after = page.locator("#qa-chat").evaluate(column)
        side_after = page.locator("#qa-inspector").evaluate(column)
        shot(page, "6-layout")
        assert abs(before[0] - after[0]) <= 2 and abs(before[1] - after[1]) <= 2, (before, after)
        assert abs(side_before[0] - side_after[0]) <= 2 and abs(side_before[1] - side_after[1]) <= 2
    finally:
        context.close()


# --------------------------------------------------------------------------- 7. empty question


def test_an_empty_question_adds_nothing_to_the_chat_and_shows_a_hint(browser, served, pipeline):
    context, page = open_page(browser, served)
    try:
        ask(page, ASK_GENEVA)
        answer = last_bot_text(page)
        box = page.locator("#qa-question textarea")
        box.fill("    ")
        box.press("Enter")
        page.locator("#qa-hint .qa-hint").wait_for(timeout=10_000)
        assert page.locator("#qa-hint").inner_text().strip() == "Bitte eine Frage eingeben."  # German only
        page.wait_for_timeout(500)
        shot(page, "7-empty")
        assert page.locator(BOT_BUBBLES).count() == 1 and page.locator(USER_MESSAGES).count() == 1
        assert last_bot_text(page) == answer
        assert len(pipeline.calls) == 1
        ask(page, ASK_COUNCIL)  # the next question takes the hint away
        assert not page.locator("#qa-hint .qa-hint").is_visible()
        page.locator("#qa-language").click()   # in English, the hint is English
        page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=10_000)
        box.press("Enter")
        page.locator("#qa-hint .qa-hint").wait_for(timeout=10_000)
        assert page.locator("#qa-hint").inner_text().strip() == "Please type a question."
        assert page.errors == []
    finally:
        context.close()


# --------------------------------------------------------------------------- 8. two at once


@pytest.mark.parametrize("pause_ms", [50, 0])
def test_two_questions_sent_back_to_back_are_both_answered_in_order(browser, corpus, pause_ms):
    def slow_answer(question):  # the first question is still being read when the second comes
        time.sleep(1.0 if "Gespräche" in question else 0.1)
        return answer_for(question)

    pipeline = FakePipeline(fake_documents(corpus), reader=FakeReader(answer_for=slow_answer))
    served = start_app(app.ChatService(QASystem(Settings(), pipeline=pipeline)))
    context, page = open_page(browser, served)
    try:
        box = page.locator("#qa-question textarea")
        box.fill(ASK_GENEVA)
        box.press("Enter")
        # The case: the next question 50 ms later; and with no pause at all (Playwright
        # refills the box within a millisecond), where Gradio's page read the box only after
        # the refill, so one question was sent twice and the other never.
        if pause_ms:
            page.wait_for_timeout(pause_ms)
        box.fill(ASK_COUNCIL)
        box.press("Enter")
        page.wait_for_function(
            f"""() => [...document.querySelectorAll("{BOT_BUBBLES}")].filter(
                m => m.querySelector('strong')).length >= 2""", timeout=30_000)
        page.wait_for_timeout(1000)
        shot(page, "8-two")
        order = page.locator("#qa-chat [data-testid='user'], #qa-chat [data-testid='bot']").evaluate_all(
            "ms => ms.map(m => [m.dataset.testid, (m.querySelector('strong') || m).innerText])")
        assert order == [["user", ASK_GENEVA], ["bot", "Genf"], ["user", ASK_COUNCIL], ["bot", "Mittwoch"]]
        assert [call["question"] for call in pipeline.calls] == [ASK_GENEVA, ASK_COUNCIL]
        assert page.errors == []
    finally:
        context.close()
        served.close()


def test_two_questions_typed_in_one_moment_are_both_answered(browser, corpus):
    """The sub-millisecond case, made certain: both questions typed and sent in one task of the
    page, so nothing of Gradio's runs in between; it read the box only afterwards, and sent the
    second question twice and the first never."""
    pipeline = FakePipeline(fake_documents(corpus), reader=FakeReader(answer_for=answer_for))
    served = start_app(app.ChatService(QASystem(Settings(), pipeline=pipeline)))
    context, page = open_page(browser, served)
    try:
        page.evaluate("""([first, second]) => {
            const box = document.querySelector('#qa-question textarea');
            for (const text of [first, second]) {
                box.value = text;
                box.dispatchEvent(new Event('input', {bubbles: true}));
                for (const type of ['keydown', 'keypress']) {  // Gradio submits on keypress
                    box.dispatchEvent(new KeyboardEvent(type, {key: 'Enter', code: 'Enter',
                                                               bubbles: true, cancelable: true}));
                }
            }
        }""", [ASK_GENEVA, ASK_COUNCIL])
        page.wait_for_function(  # both questions shown and both answers there
            f"""() => document.querySelectorAll("{USER_MESSAGES}").length === 2 && [...document
                .querySelectorAll("{BOT_BUBBLES}")].filter(m => m.querySelector('strong')).length === 2""",
            timeout=30_000)
        order = page.locator("#qa-chat [data-testid='user'], #qa-chat [data-testid='bot']").evaluate_all(
            "ms => ms.map(m => [m.dataset.testid, (m.querySelector('strong') || m).innerText])")
        assert order == [["user", ASK_GENEVA], ["bot", "Genf"], ["user", ASK_COUNCIL], ["bot", "Mittwoch"]]
        assert page.locator("#qa-question textarea").input_value() == ""
        assert page.errors == []
    finally:
        context.close()
        served.close()
