"""``qa ask``: one question in, the extracted answer with numbered citations out."""
from __future__ import annotations

import argparse
import json
import sys

from qa.answering.present import present, response_json
from qa.answering.question import check_question
from qa.commands.output import printable
from qa.settings import add_index_options, add_reader_option, settings_from_args
from qa.system import check_limits
from qa.types import Response
from qa.web.render import original_url


def register(subparsers) -> None:
    ask = subparsers.add_parser(
        "ask", help="answer a question with cited, word-for-word spans from the articles",
        description="Retrieve the K best passages, read them with the extractive QA model and print "
                    "the answer, its score and numbered citations. Prints that the corpus holds no "
                    "answer when the evidence is weak.")
    ask.add_argument("question", help="the question, German or English")
    ask.add_argument("--k", type=int, default=None, help="passages to read (default 3)")
    ask.add_argument("--top-n", type=int, default=None,
                     help="answers to extract (default 3); the text shows those scoring at least "
                          "half the best, as the chat does, and --json all of them")
    add_reader_option(ask)
    ask.add_argument("--threshold", type=float, default=None,
                     help="'not in the articles' threshold in [0, 1] on the answer's confidence (0 never "
                          "abstains; default: calibrated); above it answers are confident or uncertain")
    ask.add_argument("--json", action="store_true",
                     help="print exactly one JSON object (the /ask API's shape, with every answer)")
    add_index_options(ask)
    ask.set_defaults(handler=run_ask)


def tier_line(response: Response) -> str:
    """"confident (confidence 0.87)" or "uncertain (confidence 0.52): check the cited sentence"."""
    line = f"{response.tier} (confidence {response.confidence:.2f})"
    return f"{line}: check the cited sentence" if response.tier == "uncertain" else line


def format_response(response: Response) -> str:
    """The human output: the answer and the close alternatives the chat shows too
    (``qa.web.render.present``: runners-up with at least half the best score), then numbered
    citations with each answer's document offsets and sentence. ``--json`` keeps every answer."""
    view = present(response)
    lines = [f"Q: {response.question}"]
    if view.answer is None:
        lines.append("A: (no answer) The articles do not seem to answer this question.")
        lines.append(f"   tier: none (confidence {response.confidence:.2f})")
        if response.unmentioned:
            lines.append(f"   The passages found do not mention: {', '.join(response.unmentioned)}.")
        lines.append("Closest passages:")
        for hit in response.hits[:3]:
            lines.append(f"  [{hit.rank}] {hit.title} ({hit.doc_id}, chars {hit.chunk.start}-{hit.chunk.end}, "
                         f"score {hit.score:.3f})")
            url = original_url(hit.metadata)
            if url is not None:
                lines.append(f"      {url}")
        return "\n".join(lines)
    shown = (view.answer, *view.alternatives)
    for answer in shown:
        label = "A:" if answer is view.answer else "   alternative:"
        lines.append(f"{label} {answer.text}   (score {answer.score:.2f}) [{view.citation_for(answer).number}]")
        if answer is view.answer:
            lines.append(f"   {tier_line(response)}")
    hidden = len(response.answers) - len(shown)
    if hidden > 0:
        lines.append(f"   ({hidden} weaker candidate{'s' if hidden > 1 else ''} not shown; "
                     "--json lists every answer)")
    lines.append("")
    for citation in view.citations:
        hit = citation.hit
        meta = ", ".join(v for k, v in hit.metadata.items() if k in ("outlet", "date", "place"))
        lines.append(f"[{citation.number}] {hit.title}{' (' + meta + ')' if meta else ''}")
        url = original_url(hit.metadata)
        if url is not None:
            lines.append(f"    {url}")
        for answer in shown:
            if view.citation_for(answer) is citation:
                lines.append(f"    {answer.doc_id}, chars {answer.start}-{answer.end}")
                lines.append(f"    \"{answer.sentence.strip()}\"")
    lines.append(f"\nreader: {response.reader}")
    return "\n".join(lines)


def run_ask(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    check_question(args.question)   # everything a user can get wrong, before any model loads
    check_limits(k=settings.k, top_n=settings.top_n, threshold=args.threshold)
    system = args.load_system(settings, show_progress=False)
    response = system.ask(args.question, k=settings.k, top_n=settings.top_n, threshold=args.threshold)
    if args.json:
        # Every answer asked for, not just the close alternatives the text and the chat show.
        view = present(response, max_alternatives=settings.top_n - 1, alternative_ratio=0.0)
        json.dump(response_json(view), sys.stdout, ensure_ascii=False)
        print()
    else:
        print(printable(format_response(response)))
    return 0
