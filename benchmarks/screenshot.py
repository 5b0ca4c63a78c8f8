"""Save docs/screenshot.png (the chat after a seed question, with its source opened) and
docs/screenshot-phone.png (a phone, 390×844, after tapping the answer's citation).

    python benchmarks/screenshot.py                      # starts the app (real models) itself
    python benchmarks/screenshot.py --url http://127.0.0.1:7860/

Needs Debian's chromium (/usr/bin/chromium) and the playwright Python package.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
FIRST = "Wann ist die Sitzung des Nato-Russland-Rates?"
SECOND = "Und die OSZE?"


def wait_for_answers(page, count: int) -> None:
    page.wait_for_function(
        f"""() => {{
            const m = document.querySelectorAll('#qa-chat .message.bot');
            return m.length >= {count} && !m[m.length - 1].innerText.includes('Loading content');
        }}""", timeout=180_000)


def capture(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1440, "height": 900}, device_scale_factor=1)
        page.goto(url)
        box = page.locator("#qa-question textarea")
        box.fill(FIRST)
        box.press("Enter")
        wait_for_answers(page, 1)
        box.fill(SECOND)
        box.press("Enter")
        wait_for_answers(page, 2)
        page.locator("#qa-sources .qa-open").first.click()
        page.locator("#qa-article #qa-passage").wait_for()
        page.wait_for_timeout(800)
        page.mouse.move(0, 0)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        # the phone: one question, then its first citation tapped (the source scrolls into view)
        phone = browser.new_page(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                 is_mobile=True, has_touch=True)
        phone.goto(url)
        box = phone.locator("#qa-question textarea")
        box.fill(FIRST)
        box.press("Enter")
        wait_for_answers(phone, 1)
        phone.locator("#qa-chat .message.bot a.qa-cite").first.tap()
        phone.locator("#qa-sources .qa-card-active").wait_for()
        phone.wait_for_timeout(800)
        phone.screenshot(path=str(out.with_name(out.stem + "-phone" + out.suffix)))
        browser.close()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app (default: start one in this process)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshot.png")
    args = parser.parse_args(argv)
    blocks = None
    url = args.url
    if url is None:
        from qa.settings import Settings
        from qa.system import QASystem
        from qa.web.app import ChatService
        from qa.web.page import build_app, launch

        blocks = build_app(ChatService(QASystem.load(Settings.from_env())))
        launch(blocks, host="127.0.0.1", port=None, prevent_thread_lock=True)
        url = blocks.local_url
    try:
        capture(url, args.out)
    finally:
        if blocks is not None:
            blocks.close()
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
