"""Every string of the chat's interface, one table per language: German (the default, as the
articles and most readers are) and English, chosen by the page's language button or ``?lang=en``."""
from __future__ import annotations

from typing import Mapping

DEFAULT_LANGUAGE = "de"

TEXTS: dict[str, dict[str, str]] = {
    "de": {
        # the page
        "page_title": "Nachrichten-QA · Antworten mit Quellen",
        "intro": "Fragen Sie auf Deutsch oder Englisch. Jede Antwort ist wörtlich aus {articles} "
                 "Artikeln übernommen, die Quelle ist einen Klick entfernt.",
        "switch_language": "English",
        "chat_label": "Unterhaltung",
        "placeholder_chat": "**Stellen Sie eine Frage zu den Artikeln.** "
                            "Anschlussfragen wie *Und wann?* funktionieren auch.",
        "question_label": "Ihre Frage",
        "question_placeholder": "z. B. Wann ist die Sitzung des Nato-Russland-Rates?",
        "ask": "Fragen",
        "new_conversation": "Neue Unterhaltung",
        "export": "Unterhaltung als Markdown",
        "settings": "Einstellungen",
        "k": "Gelesene Stellen",
        "k_info": "wie viele gefundene Stellen das Lesemodell liest",
        "top_n": "Gezeigte Antworten",
        "top_n_info": "die beste Antwort und nahe Alternativen",
        "threshold": "Schwelle für „nicht in den Artikeln“ (0 = immer antworten)",
        "threshold_info": "Unter dieser Konfidenz antwortet der Chat „nicht in den Artikeln“. Die "
                          "Konfidenz schätzt, wie wahrscheinlich die Antwort stimmt (aus dem "
                          "Lesemodell, den Stellen und ob Namen, Zahlen und Fragewort der Frage zur "
                          "Antwort passen); sie ist die Prozentzahl der Einschätzung. Antworten "
                          "zwischen dieser Schwelle und der sicheren Grenze gelten als unsicher.",
        "restrict": "Nur diese Artikel",
        "restrict_info": "leer: alle Artikel durchsuchen",
        "add": "Artikel hinzufügen",
        "upload": "Datei hochladen (.txt, .md, .html, .pdf; höchstens 5 MB)",
        "new_title": "… oder einen Artikel einfügen: Titel",
        "new_url": "Link zum Original (optional)",
        "new_url_placeholder": "https://…",
        "new_text": "Text",
        "new_text_placeholder": "der Text des Artikels, wie veröffentlicht",
        "replace": "Den Artikel gleichen Namens ersetzen",
        "replace_info": "aus: ein Artikel mit vergebenem Namen wird unter einem neuen gespeichert",
        "add_button": "Zu den Artikeln hinzufügen",
        "tab_sources": "Quellen",
        "tab_article": "Artikel",
        "tab_documents": "Alle Artikel ({count})",
        "article_empty": "Öffnen Sie eine Quelle, um den ganzen Artikel zu lesen.",
        # answers
        "assessment": "Einschätzung",
        "confident": "sicher",
        "uncertain": "unsicher",
        "none": "nicht in den Artikeln",
        "check": "bitte die markierte Quelle prüfen",
        "no_answer": "Dazu finde ich in den Artikeln keine Antwort.",
        "alternatives": "Andere mögliche Antworten",
        "sources": "Quellen",
        "closest": "Die nächstliegenden Stellen",
        "followup": "Verstanden als",
        "unmentioned": "Die gefundenen Stellen erwähnen nicht",
        "cite": "Quelle {number}",
        "failed": "Beim Antworten ist etwas schiefgegangen; die Einzelheiten stehen im Server-Log. "
                  "Bitte noch einmal versuchen oder die Frage umformulieren.",
        # sources and articles
        "open": "Ganzen Artikel öffnen",
        "original": "Original",
        "original_label": "Originalartikel auf {host} (neues Fenster)",
        "details": "Details",
        "file": "Datei",
        "passage": "Stelle",
        "score": "Suchwert",
        "words": "Wörter",
        "no_sources": "Noch keine Quellen: stellen Sie eine Frage.",
        "col_title": "Titel",
        "col_outlet": "Medium",
        "col_date": "Datum",
        "col_words": "Wörter",
        "open_article": "Artikel öffnen: {title}",
        # feedback
        "feedback_pick": "Wählen Sie zuerst eine Antwort im Chat (👍 oder 👎 darunter).",
        "feedback_right": "Danke! Als richtig gespeichert: „{answer}“.",
        "feedback_wrong": "Danke! Als falsch gespeichert: „{answer}“.",
        "correct_label": "Die richtige Antwort (freiwillig)",
        "correct_placeholder": "wie sie im Artikel steht",
        "correct_send": "Richtige Antwort senden",
        "feedback_saved": "Danke! Die richtige Antwort „{correct}“ ist gespeichert.",
        # export
        "export_title": "Unterhaltung",
        "export_answer": "Antwort",
        "export_sources": "Quellen",
        "export_exported": "Exportiert am {when}",
        # the status line and adding articles
        "status_articles": "{n} Artikel",
        "status_articles_one": "1 Artikel",
        "status_passages": "{n} Stellen",
        "status_passages_one": "1 Stelle",
        "status_hybrid": "hybride Suche (BM25 + {embedder})",
        "status_dense": "dichte Suche ({embedder})",
        "status_bm25": "BM25-Suche",
        "status_other": "Suche {mode}",
        "status_index": "Index {kind}",
        "status_reader": "Lesemodell {reader}",
        "added": "Hinzugefügt:",
        "updated": "Aktualisiert (die frühere Fassung ersetzt):",
        "unchanged": "Schon unverändert in den Artikeln:",
        "ask_now": "Sie können jetzt danach fragen.",
        "add_failed": "Beim Hinzufügen ist etwas schiefgegangen; die Einzelheiten stehen im Server-Log.",
        # messages for QAError keys (embeddings/errors.py), with its values
        "error_title_missing": "Bitte einen Titel angeben.",
        "error_title_too_long": "Der Titel hat {chars} Zeichen; bitte höchstens {limit}.",
        "error_text_missing": "Bitte den Text des Artikels einfügen.",
        "error_text_too_big": "Der Text hat {mb:.1f} MB; ein Artikel darf höchstens {limit:.0f} MB haben. "
                              "Bitte in mehrere Artikel teilen.",
        "error_bad_link": "„{value}“ ist kein Link zum Artikel: bitte die http(s)-Adresse angeben "
                          "(https://www.example.org/artikel) oder das Feld leer lassen.",
        "error_link_with_file": "Der Link gehört zu einem eingefügten Artikel; eine Datei nennt ihren "
                                "eigenen in einer ersten Zeile „URL: https://…“. Bitte das Link-Feld "
                                "leeren oder den Artikel einfügen.",
        "error_add_both": "Bitte entweder eine Datei wählen oder einen Text einfügen, nicht beides; "
                          "leeren Sie eines der beiden.",
        "error_add_nothing": "Bitte eine Datei hochladen oder einen Artikel mit Titel einfügen.",
        "error_upload_type": "{name}: Dieser Dateityp kann nicht hinzugefügt werden; bitte {suffixes} hochladen.",
        "error_upload_too_big": "{name} hat {mb:.1f} MB; ein Artikel darf höchstens {limit:.0f} MB haben. "
                                "Bitte in mehrere Artikel teilen.",
        "error_upload_empty": "{name} ist leer.",
        "error_not_pdf": "{name} ist kein PDF (kein %PDF-Kopf); bitte das echte PDF hochladen oder den "
                         "Artikel als Text speichern.",
        "error_binary": "{name} ist eine Binärdatei, kein Textartikel; bitte .txt, .md, .html oder .pdf hochladen.",
        "error_question_empty": "Bitte eine Frage eingeben.",
        "error_question_not_text": "Bitte eine Frage als Text eingeben.",
        "error_question_bytes": "Die Frage enthält Bytes, die kein UTF-8-Text sind; bitte als Text eingeben.",
        "error_question_too_long": "Die Frage ist {chars} Zeichen lang; bitte höchstens {limit} Zeichen.",
        "renamed": "Ein Artikel namens {asked} ist schon da, deshalb ist dieser als {saved} gespeichert; "
                   "um {asked} zu ersetzen, „Den Artikel gleichen Namens ersetzen“ ankreuzen.",
    },
    "en": {
        "page_title": "News QA · answers with sources",
        "intro": "Ask in German or English. Every answer is copied word for word from {articles} "
                 "articles, with its source one click away.",
        "switch_language": "Deutsch",
        "chat_label": "Conversation",
        "placeholder_chat": "**Ask a question about the articles.** "
                            "Follow-ups such as *Und wann?* or *And who else?* work too.",
        "question_label": "Your question",
        "question_placeholder": "e.g. When is the NATO-Russia Council meeting?",
        "ask": "Ask",
        "new_conversation": "New conversation",
        "export": "Conversation as Markdown",
        "settings": "Settings",
        "k": "Passages to read",
        "k_info": "how many retrieved passages the reader looks at",
        "top_n": "Answers to show",
        "top_n_info": "the best answer plus close alternatives",
        "threshold": "Threshold for 'not in the articles' (0 = always answer)",
        "threshold_info": "Below this confidence the chat answers 'not in the articles'. The "
                          "confidence is the system's estimate that its answer is right (from the "
                          "reader, the passages, and whether the question's names, numbers and "
                          "question word fit the answer), the percentage shown as 'Assessment'. "
                          "Answers between this threshold and the confident cut are uncertain.",
        "restrict": "Only these articles",
        "restrict_info": "empty: search all articles",
        "add": "Add an article",
        "upload": "Upload a file (.txt, .md, .html, .pdf; at most 5 MB)",
        "new_title": "… or paste an article: title",
        "new_url": "Link to the original (optional)",
        "new_url_placeholder": "https://…",
        "new_text": "Text",
        "new_text_placeholder": "the article's text, as published",
        "replace": "Replace the article of the same name",
        "replace_info": "off: an article whose name is taken is saved under a new one",
        "add_button": "Add to the articles",
        "tab_sources": "Sources",
        "tab_article": "Article",
        "tab_documents": "All articles ({count})",
        "article_empty": "Open a source to read the whole article.",
        "assessment": "Assessment",
        "confident": "confident",
        "uncertain": "uncertain",
        "none": "not in the articles",
        "check": "please check the highlighted source",
        "no_answer": "I can't find an answer to that in the articles.",
        "alternatives": "Other possible answers",
        "sources": "Sources",
        "closest": "The closest passages",
        "followup": "Understood as",
        "unmentioned": "The passages found do not mention",
        "cite": "Source {number}",
        "failed": "Something went wrong while answering; the details are in the server log. "
                  "Please try again or rephrase the question.",
        "open": "Open the full article",
        "original": "Original",
        "original_label": "Original article on {host} (new window)",
        "details": "Details",
        "file": "file",
        "passage": "passage",
        "score": "search score",
        "words": "words",
        "no_sources": "No sources yet: ask a question.",
        "col_title": "Title",
        "col_outlet": "Outlet",
        "col_date": "Date",
        "col_words": "Words",
        "open_article": "Open the article: {title}",
        "feedback_pick": "First pick an answer in the chat (👍 or 👎 under it).",
        "feedback_right": "Thank you! Saved as right: “{answer}”.",
        "feedback_wrong": "Thank you! Saved as wrong: “{answer}”.",
        "correct_label": "The right answer (optional)",
        "correct_placeholder": "as the article words it",
        "correct_send": "Send the right answer",
        "feedback_saved": "Thank you! The right answer “{correct}” is saved.",
        "export_title": "Conversation",
        "export_answer": "Answer",
        "export_sources": "Sources",
        "export_exported": "Exported on {when}",
        "status_articles": "{n} articles",
        "status_articles_one": "1 article",
        "status_passages": "{n} passages",
        "status_passages_one": "1 passage",
        "status_hybrid": "hybrid retrieval (BM25 + {embedder})",
        "status_dense": "dense retrieval ({embedder})",
        "status_bm25": "BM25 retrieval",
        "status_other": "{mode} retrieval",
        "status_index": "{kind} index",
        "status_reader": "reader {reader}",
        "added": "Added",
        "updated": "Updated (replaced the earlier version)",
        "unchanged": "Already in the corpus, unchanged:",
        "ask_now": "Ask about it now.",
        "add_failed": "Something went wrong while adding the article; the details are in the server log.",
        "error_title_missing": "Please give the article a title.",
        "error_title_too_long": "The title has {chars} characters; keep it under {limit}.",
        "error_text_missing": "Please paste the article's text.",
        "error_text_too_big": "The text is {mb:.1f} MB; articles may have at most {limit:.0f} MB. "
                              "Split it into articles.",
        "error_bad_link": "'{value}' is no link to the article: give its http(s) address "
                          "(https://www.example.org/artikel) or leave the field empty.",
        "error_link_with_file": "The link goes with a pasted article; a file gives its own in a first line "
                                "\"URL: https://…\". Clear the link field, or paste the article.",
        "error_add_both": "Choose a file or paste a text, not both; clear one of them.",
        "error_add_nothing": "Choose a file to upload, or paste an article with its title.",
        "error_upload_type": "{name}: files of this type cannot be added; upload {suffixes} files.",
        "error_upload_too_big": "{name} is {mb:.1f} MB; articles may have at most {limit:.0f} MB. "
                                "Split it into articles.",
        "error_upload_empty": "{name} is empty.",
        "error_not_pdf": "{name} is not a PDF (no %PDF header); upload the real PDF or save the article as text.",
        "error_binary": "{name} is a binary file, not a text article; upload .txt, .md, .html or .pdf.",
        "error_question_empty": "Please type a question.",
        "error_question_not_text": "Please type your question as text.",
        "error_question_bytes": "The question holds bytes that are not UTF-8 text; type it as text.",
        "error_question_too_long": "The question is {chars:,} characters long; please keep it under {limit:,}.",
        "renamed": "An article named {asked} is already in the corpus, so this one is saved as {saved}; "
                   "to update {asked} instead, tick \"Replace the article of the same name\".",
    },
}
LANGUAGES = tuple(TEXTS)


def texts(language: str | None) -> Mapping[str, str]:
    """The table of ``language``, German for anything unknown."""
    return TEXTS.get(language or DEFAULT_LANGUAGE, TEXTS[DEFAULT_LANGUAGE])


def pick_language(choice: str | None = None) -> str:
    """The interface's language: an explicit, known choice ("en", "de", "en-GB"), else German
    (the browser's own language is not used: Chromium and most browsers here say "en-US"
    while their users read German news)."""
    if choice and choice.lower()[:2] in TEXTS:
        return choice.lower()[:2]
    return DEFAULT_LANGUAGE
