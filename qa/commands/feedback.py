"""``qa feedback list`` and ``qa feedback export``: what users said of the answers, and the
question set for ``qa eval`` made of it (qa/evaluation/feedback.py)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from embeddings.errors import QAError
from qa.answering.feedback import FeedbackLog, feedback_path
from qa.commands.output import printable
from qa.evaluation.feedback import feedback_questions, write_question_set
from qa.settings import folder_argument, settings_from_args


def register(subparsers) -> None:
    feedback = subparsers.add_parser(
        "feedback", help="list the feedback on answers, or export it as a question set for qa eval",
        description="Users' verdicts on answers (right / wrong / the right answer), kept in "
                    "INDEX_DIR/feedback.jsonl.")
    actions = feedback.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="print every entry",
                                 description="Print every feedback entry, oldest first, and a count.")
    listing.add_argument("--json", action="store_true", help="print one JSON object instead of lines")
    export = actions.add_parser(
        "export", help="write a question set (.jsonl) that qa eval runs",
        description="Write the feedback as a JSONL question set: an answer marked right is the gold "
                    "(with its article and offsets), the right answer given for a wrong one is the "
                    "gold, a confirmed 'no answer' is a question without answer; a 'wrong' without "
                    "the right answer is skipped. Follow-ups are written resolved. Run it with: "
                    "qa eval FILE")
    export.add_argument("--out", type=Path, required=True, metavar="FILE",
                        help="the question set to write (.jsonl; replaced in one step)")
    for parser in (listing, export):
        parser.add_argument("--index-dir", type=folder_argument, default=None,
                            help="the index whose feedback.jsonl to read (default: index/ or $QA_INDEX_DIR)")
        parser.add_argument("--file", type=Path, default=None, metavar="FEEDBACK",
                            help="read this feedback file instead of INDEX_DIR/feedback.jsonl")
    listing.set_defaults(handler=run_list)
    export.set_defaults(handler=run_export)


def _feedback_log(args: argparse.Namespace) -> FeedbackLog:
    if args.file is not None:
        if not args.file.is_file():
            raise QAError(f"--file {args.file}: no such file; give a feedback.jsonl")
        return FeedbackLog(args.file)
    return FeedbackLog(feedback_path(settings_from_args(args).index_dir))


def run_list(args: argparse.Namespace) -> int:
    feedback_log = _feedback_log(args)
    entries = feedback_log.entries()
    if args.json:
        json.dump({"file": str(feedback_log.path), "entries": [e.to_json() for e in entries]}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    for e in entries:
        shown = "(no answer)" if e.answer is None else e.answer
        grade = " ".join(x for x in (e.tier, None if e.confidence is None else f"{e.confidence:.2f}") if x)
        line = f"{e.created_at}  {e.verdict:<5}  {grade or '-':<15}  {e.question}  → {shown}"
        if e.correct_answer is not None:
            line += f"  (right: {e.correct_answer})"
        print(printable(line))
    right = sum(e.verdict == "right" for e in entries)
    corrected = sum(e.correct_answer is not None for e in entries)
    print(f"{len(entries)} entries in {feedback_log.path}: {right} right, {len(entries) - right} wrong "
          f"({corrected} with the right answer); qa feedback export makes "
          f"{len(feedback_questions(entries).questions)} questions of them")
    return 0


def run_export(args: argparse.Namespace) -> int:
    feedback_log = _feedback_log(args)
    if args.out.resolve() == feedback_log.path.resolve():
        raise QAError(f"--out {args.out} is the feedback file itself; give another file name")
    entries = feedback_log.entries()
    if not entries:
        raise QAError(f"no feedback in {feedback_log.path} yet; mark answers right or wrong in the chat first")
    export = feedback_questions(entries)
    write_question_set(export, args.out)
    print(f"wrote {args.out}: {export.summary()}; run it with: qa eval {args.out}")
    return 0
