"""The chat's look and its small scripts: theme, CSS, and the JS that turns clicks in the
rendered HTML (qa/web/render.py) into Gradio events."""
from __future__ import annotations

import json

import gradio as gr

from qa.web.texts import TEXTS

THEME = gr.themes.Soft(
    primary_hue="indigo",
    secondary_hue="amber",
    neutral_hue="slate",
    font=("Inter", "ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "sans-serif"),
).set(
    # white on indigo-500 was 4.46:1 (axe-core, WCAG AA asks 4.5); indigo-600 is 6.3:1
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_dark="*primary_600",
    button_primary_background_fill_hover="*primary_700",
    button_primary_background_fill_hover_dark="*primary_700",
    # the same white on indigo-500 for a hovered secondary button in dark mode
    button_secondary_background_fill_hover_dark="*primary_600",
)
CSS = """
/* A fixed width from the start: sized by its content, the page was narrower until the first
   answer and then jumped sideways (both columns moved and widened). */
.gradio-container { max-width: 1440px !important; width: 100% !important; margin: auto; }
.gradio-container > .main { width: 100%; }
#qa-header h1 { font-size: 1.55rem; margin: 0 0 .15rem 0; }
#qa-header p { margin: 0; color: var(--body-text-color-subdued); }
#qa-header .qa-status { font-size: .8rem; margin-top: .2rem; }
.qa-add-ok { color: #166534; background: #f0fdf4; border: 1px solid #bbf7d0; border-radius: 8px;
  padding: .45rem .6rem; font-size: .88rem; }
.qa-add-error { color: #991b1b; background: #fef2f2; border: 1px solid #fecaca; border-radius: 8px;
  padding: .45rem .6rem; font-size: .88rem; }
#qa-examples button { font-size: .82rem; }
.qa-hint { font-size: .88rem; padding: .3rem .6rem; border-left: 3px solid #f59e0b;
  color: var(--body-text-color); }
.qa-sources, .qa-article, .qa-doc-table { font-size: .92rem; line-height: 1.55; }
.qa-card { border: 1px solid var(--border-color-primary); border-radius: 10px; padding: .7rem .85rem;
  margin-bottom: .7rem; background: var(--background-fill-primary); cursor: pointer; }
.qa-card:hover { border-color: var(--color-accent); box-shadow: 0 1px 6px rgba(79,70,229,.12); }
.qa-card-head { display: flex; gap: .5rem; align-items: baseline; }
.qa-num { display: inline-block; min-width: 1.5rem; text-align: center; border-radius: 6px;
  background: #e0e7ff; color: #3730a3; font-weight: 700; font-size: .8rem; padding: 0 .3rem; }
.qa-title { font-weight: 600; }
.qa-meta { color: var(--body-text-color-subdued); font-size: .8rem; margin: .15rem 0 .45rem 0; }
.qa-passage { white-space: pre-wrap; }
.qa-open { margin-top: .45rem; font-size: .8rem; color: #3730a3; background: none; border: none;
  padding: 0; cursor: pointer; }
.qa-open:hover { text-decoration: underline; }
mark.qa-answer { background: #fde68a; color: #1f2937; padding: 0 .12rem; border-radius: 3px;
  box-shadow: inset 0 -2px 0 #f59e0b; font-weight: 600; }
mark.qa-alt { background: #e0e7ff; color: #1f2937; padding: 0 .1rem; border-radius: 3px; }
.qa-passage-mark { background: #fef9e7; border-left: 3px solid #f59e0b; padding: .1rem .2rem; }
.qa-article { padding: 0 .9rem .9rem .9rem; }
.qa-article-head { position: sticky; top: 0; background: var(--background-fill-primary);
  padding: .7rem 0 .35rem 0; z-index: 1; box-shadow: 0 -40px 0 var(--background-fill-primary); border-bottom: 1px solid var(--border-color-primary); margin-bottom: .5rem; }
.qa-article-title { font-weight: 700; font-size: 1.02rem; }
.qa-article-body { white-space: pre-wrap; }
.qa-note, .qa-empty { color: var(--body-text-color-subdued); padding: .4rem 0 .7rem 0; }
.qa-doc-table { width: 100%; border-collapse: collapse; }
.qa-doc-table th { text-align: left; font-size: .78rem; text-transform: uppercase;
  color: var(--body-text-color-subdued); border-bottom: 1px solid var(--border-color-primary); padding: .3rem; }
.qa-doc-table td { padding: .4rem .3rem; border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
/* Gradio's prose tables draw every cell's border (white in dark mode): rows only. */
.qa-doc-table th, .qa-doc-table td { border-top: none; border-left: none; border-right: none; }
.qa-doc-row { cursor: pointer; } .qa-doc-row:hover { background: #eef2ff; }
/* Dark mode (Gradio puts .dark on the body): the light highlights above keep their dark text;
   the ones that inherit the light text of dark mode get dark backgrounds, and the indigo link
   a light shade. Every pair keeps a contrast of at least 4.5:1. */
.dark .qa-passage-mark { background: rgba(245, 158, 11, .14); }
.dark .qa-doc-row:hover { background: #312e81; }
.dark .qa-open { color: #a5b4fc; }
.dark .qa-num { background: #312e81; color: #e0e7ff; }
.dark .qa-add-ok { color: #bbf7d0; background: #052e16; border-color: #166534; }
.dark .qa-add-error { color: #fecaca; background: #450a0a; border-color: #991b1b; }
.qa-num-cell { text-align: right; font-variant-numeric: tabular-nums; }
/* Secondary text: the theme's "subdued" grey was 2.45:1 on white; the body text colour keeps
   AA contrast in light and dark mode. Also the selected tab (indigo-500: 4.26:1) and the
   footer's API link (2.45:1), found by axe-core (tests/test_browser_ui.py). */
#qa-header p, .qa-meta, .qa-note, .qa-empty, .qa-doc-table th, .qa-details { color: var(--body-text-color); }
#qa-inspector button.selected { color: #4338ca; }
.dark #qa-inspector button.selected { color: #a5b4fc; }
footer .show-api, footer .show-api * { color: var(--body-text-color) !important; }
#qa-top { align-items: flex-start; }
/* Citation numbers in the chat: links that open the source; a preview on hover or focus. */
#qa-chat a.qa-cite { text-decoration: none; font-weight: 600; color: #3730a3; background: #e0e7ff;
  border-radius: 5px; padding: 0 .25rem; font-size: .85em; }
#qa-chat a.qa-cite:hover, #qa-chat a.qa-cite:focus-visible { outline: 2px solid #4f46e5; outline-offset: 1px; }
.dark #qa-chat a.qa-cite { color: #e0e7ff; background: #312e81; }
#qa-cite-preview { position: absolute; z-index: 1000; display: none; background: #1e293b; color: #f8fafc;
  font-size: .85rem; line-height: 1.4; padding: .45rem .6rem; border-radius: 8px;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); pointer-events: none; }
.qa-card:focus-visible, .qa-doc-row:focus-visible, .qa-article:focus-visible { outline: 2px solid #4f46e5; outline-offset: 2px; }
.qa-card-active { border-color: #4f46e5; box-shadow: 0 0 0 2px rgba(79,70,229,.35); }
.qa-card-foot { display: flex; justify-content: space-between; align-items: baseline; gap: .5rem;
  flex-wrap: wrap; margin-top: .45rem; }
.qa-card-foot .qa-open { margin-top: 0; }
.qa-details { font-size: .78rem; }
.qa-details summary { cursor: pointer; }
a.qa-original { color: #3730a3; }
.dark a.qa-original { color: #a5b4fc; }
.qa-notice { font-size: .88rem; padding: .3rem .6rem; border-left: 3px solid #16a34a; }
"""
SOURCES_JS = """
// A click (or Enter/Space on a focused card) opens the card's article; the link to the
// original and the "Details" toggle keep their own behaviour.
const open = (event) => {
  if (event.target.closest('a, summary, details')) return;
  const card = event.target.closest('[data-cite]');
  if (card && element.contains(card)) {
    event.preventDefault();
    trigger('open_citation', {number: Number(card.dataset.cite)});
  }
};
element.addEventListener('click', open);
element.addEventListener('keydown', (event) => {
  if ((event.key === 'Enter' || event.key === ' ') && event.target.classList.contains('qa-card')) open(event);
});
// A citation link in the chat, or a click on an answer, marks a card (qa-card-active): scroll
// the panel, then the page (on a phone the panel is below the chat), so the card shows from its
// title down to the highlighted answer, or, when that is taller than the room, the answer a
// third down it.
const into = (room, card, answer) =>
  answer.bottom - card.top <= room.height - 16 ? card.top - room.top - 8
                                                : answer.top - room.top - room.height / 3;
const reveal = () => {
  const card = element.querySelector('.qa-card-active');
  if (!card) return;
  const target = card.querySelector('mark.qa-answer') || card;
  let box = card.parentElement;
  while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowY)) box = box.parentElement;
  if (box && box.clientHeight) {
    const frame = box.getBoundingClientRect();
    const room = {top: frame.top, height: box.clientHeight};
    box.scrollTop = Math.max(0, box.scrollTop + into(room, card.getBoundingClientRect(),
                                                     target.getBoundingClientRect()));
  }
  const shown = target.getBoundingClientRect();
  if (shown.top < 0 || shown.bottom > window.innerHeight) {
    const room = {top: 0, height: window.innerHeight};
    window.scrollBy({top: into(room, card.getBoundingClientRect(), shown)});
  }
  card.focus({preventScroll: true});
};
watch('value', () => setTimeout(reveal, 50));
"""
ARTICLE_JS = """
// Scroll the article panel so the highlighted answer shows below the panel's sticky title: the
// passage's start just under the title when the answer fits below it, else the answer itself a
// quarter down the free space (on a phone a passage is taller than the panel). Then, only if
// the answer is off screen (a phone's panel is partly below the window), scroll the page too.
const reveal = () => {
  const passage = element.querySelector('#qa-passage');
  if (!passage) return;
  const answer = passage.querySelector('mark.qa-answer') || passage;
  let box = passage.parentElement;
  while (box && !['auto', 'scroll'].includes(getComputedStyle(box).overflowY)) box = box.parentElement;
  if (!box || !box.clientHeight) return;
  const head = element.querySelector('.qa-article-head');
  const covered = head ? head.getBoundingClientRect().height : 0;
  const room = Math.max(box.clientHeight - covered, 0);
  const frameTop = box.getBoundingClientRect().top;
  const inBox = (e) => e.getBoundingClientRect().top - frameTop + box.scrollTop;
  const gap = Math.min(24, room / 8);
  const answerTop = inBox(answer), answerBottom = answerTop + answer.getBoundingClientRect().height;
  let target = inBox(passage) - covered - gap;
  if (answerBottom - target > box.clientHeight - gap) target = answerTop - covered - room / 4;
  box.scrollTop = Math.max(0, target);
  const shown = answer.getBoundingClientRect();
  if (shown.top < 0 || shown.bottom > window.innerHeight) {
    window.scrollBy({top: shown.top - window.innerHeight / 3});
  }
};
// The Article tab may mount only when first shown, with its value already set: reveal on load
// too, not just when the value changes.
setTimeout(reveal, 150);
watch('value', () => setTimeout(reveal, 150));
"""
DOCUMENTS_JS = """
const open = (event) => {
  if (event.target.closest('a')) return;  // the link to the original opens that instead
  const row = event.target.closest('[data-doc]');
  if (row && element.contains(row)) {
    event.preventDefault();
    trigger('open_document', {doc_id: row.dataset.doc});
  }
};
element.addEventListener('click', open);
element.addEventListener('keydown', (event) => {
  if (event.key === 'Enter' || event.key === ' ') open(event);
});
"""
# The bridge from the chat's citation links (PAGE_JS) to the server: an event of this HTML.
CITE_BRIDGE_JS = """
window.qaCite = (message, number) => trigger('cite', {message: message, number: number});
"""
# The interface's language, for screen readers and hyphenation (<html lang>), and the window's
# title in it.
# Gradio's own strings ("Drop File Here", "Clear", …) follow its locale store, which starts at
# the browser's language: a German page in an English browser mixed the two. Its core module
# exports changeLocale; the page imports the module it already loaded (same URL, same instance)
# and sets the store to the page's language. Without it (another Gradio build) nothing changes.
LANG_JS = ("(lang) => { document.documentElement.lang = lang; "
           f"document.title = {json.dumps({lang: t['page_title'] for lang, t in TEXTS.items()}, ensure_ascii=False)}"
           "[lang] || document.title; "
           "const core = performance.getEntriesByType('resource').map((e) => e.name)"
           r".find((n) => /\/assets\/core-[\w-]+\.js$/.test(n)); "
           "if (core) import(core).then((m) => m.changeLocale && m.changeLocale(lang)).catch(() => {}); "
           "return []; }")
# Run once per page (launch(js=...)). Gradio's copy button under a chat message copies the
# message's source, which for this chat is escaped Markdown ("**Genf** \[1\]  \n…"). In the
# capture phase of that click this notes the text the message shows (innerText: "Genf [1]\n
# Einschätzung: …" and the source lines); Gradio's handler then calls writeText (or, without a
# clipboard API, execCommand('copy')) in the same click, and gets the shown text instead. Its
# "copied" tick and copy event stay as they are. The chat's only per-message buttons are copy.
PAGE_JS = """
() => {
  document.documentElement.lang = 'de';  // the default; the page load sets the visitor's
  let shown = null;
  const shownText = (button) => {
    const chat = document.getElementById('qa-chat');
    if (!chat) return null;
    const before = [...chat.querySelectorAll('[data-testid="bot"], [data-testid="user"]')]
      .filter((m) => m.compareDocumentPosition(button) & Node.DOCUMENT_POSITION_FOLLOWING);
    const message = before[before.length - 1];
    if (!message) return null;
    return (message.querySelector('.message-content') || message).innerText.trim();
  };
  document.addEventListener('click', (event) => {
    const button = event.target.closest && event.target.closest('#qa-chat .message-buttons button');
    if (!button) return;
    shown = shownText(button);
    setTimeout(() => { shown = null; }, 0);  // only for this click's copy
  }, true);
  if (navigator.clipboard && navigator.clipboard.writeText) {
    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
    navigator.clipboard.writeText = (text) => {
      const chosen = shown === null ? text : shown;
      shown = null;
      return write(chosen);
    };
  }
  document.addEventListener('copy', (event) => {
    if (shown === null || !event.clipboardData) return;
    event.clipboardData.setData('text/plain', shown);
    event.preventDefault();
    shown = null;
  }, true);
  // Citation links [n] in the chat: a click, Enter or Space shows that source (window.qaCite, set
  // by the bridge) instead of following the link, and not also the message's own "select". On
  // hover or focus a preview shows the cited sentence (the link's title, moved out of the way
  // of the browser's own tooltip).
  const messageIndex = (link) => {
    const chat = document.getElementById('qa-chat');
    const all = [...chat.querySelectorAll('[data-testid="bot"], [data-testid="user"]')];
    return all.findIndex((m) => m.contains(link));
  };
  const openCitation = (event) => {
    const link = event.target.closest && event.target.closest('#qa-chat a.qa-cite');
    if (!link) return;
    if (event.type === 'keydown' && event.key !== 'Enter' && event.key !== ' ') return;
    event.preventDefault();
    event.stopPropagation();  // the message's own click/Enter would show all its sources after
    const number = Number((link.getAttribute('href') || '').replace('#qa-cite-', ''));
    if (window.qaCite && number) window.qaCite(messageIndex(link), number);
  };
  document.addEventListener('click', openCitation, true);
  document.addEventListener('keydown', openCitation, true);
  let tip = null;
  const showPreview = (event) => {
    const link = event.target.closest && event.target.closest('#qa-chat a.qa-cite');
    if (!link) return;
    if (link.title) { link.dataset.preview = link.title; link.removeAttribute('title'); }
    if (!tip) {
      tip = document.createElement('div');
      tip.id = 'qa-cite-preview';
      tip.setAttribute('role', 'tooltip');
      document.body.appendChild(tip);
    }
    tip.textContent = link.dataset.preview || '';
    link.setAttribute('aria-describedby', 'qa-cite-preview');
    const box = link.getBoundingClientRect();
    tip.style.display = 'block';
    const width = Math.min(360, window.innerWidth - 16);
    tip.style.maxWidth = width + 'px';
    tip.style.left = Math.max(8, Math.min(box.left, window.innerWidth - width - 8)) + window.scrollX + 'px';
    tip.style.top = box.bottom + 6 + window.scrollY + 'px';
  };
  const hidePreview = (event) => {
    const link = event.target.closest && event.target.closest('#qa-chat a.qa-cite');
    if (link && tip) tip.style.display = 'none';
  };
  document.addEventListener('mouseover', showPreview);
  document.addEventListener('focusin', showPreview);
  document.addEventListener('mouseout', hidePreview);
  document.addEventListener('focusout', hidePreview);
  document.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && tip) tip.style.display = 'none';
  });
  // Gradio labels each message with its Markdown source ("bot's message: **Genf** <a …"): a
  // screen reader read the escapes and tags. Each message is labelled with the text it shows,
  // and is in the tab order (Enter selects it, as a click does; Space too).
  const labelMessages = () => {
    const chat = document.getElementById('qa-chat');
    if (!chat) return;
    const german = document.documentElement.lang !== 'en';
    for (const message of chat.querySelectorAll('[data-testid="bot"], [data-testid="user"]')) {
      const content = message.querySelector('.message-content') || message;
      const who = message.dataset.testid === 'bot' ? (german ? 'Antwort' : 'Answer')
                                                   : (german ? 'Frage' : 'Question');
      const label = who + ': ' + content.innerText.trim();
      if (message.getAttribute('aria-label') !== label) message.setAttribute('aria-label', label);
      if (!message.hasAttribute('tabindex')) message.setAttribute('tabindex', '0');
    }
  };
  new MutationObserver(labelMessages).observe(document.body,
    {subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ['aria-label']});
  document.addEventListener('keydown', (event) => {
    const message = event.target.closest && event.target.closest('#qa-chat [data-testid]');
    if (message && event.target === message && event.key === ' ') {  // Gradio handles Enter
      event.preventDefault();
      message.click();
    }
  });
  // The question as it is when it is sent (Enter in the box, or a click on Ask), for ASK_JS:
  // Gradio reads the box only a tick later, after a question typed meanwhile.
  const noteQuestion = () => {
    const box = document.querySelector('#qa-question textarea');
    if (box) (window.qaTyped = window.qaTyped || []).push({text: box.value, at: Date.now()});
  };
  document.addEventListener('keypress', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing
        && event.target.closest && event.target.closest('#qa-question textarea')) noteQuestion();
  }, true);
  document.addEventListener('click', (event) => {
    if (event.target.closest && event.target.closest('#qa-ask')) noteQuestion();
  }, true);
}
"""
