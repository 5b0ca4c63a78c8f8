"""``qa add``, ``qa remove``, ``qa list``: a living corpus, updated in place without rebuilds.

The corpus folder (``--corpus``, default seeds/) is the source of truth: ``qa add`` copies the
article files into it and indexes them; ``qa remove`` deletes them from it and from the index.
So ``qa index`` and every later start agree with what was added or removed.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from embeddings.errors import QAError
from qa.commands.output import printable
from qa.settings import add_index_options, settings_from_args


def register(subparsers) -> None:
    add = subparsers.add_parser(
        "add", help="add or update articles (.txt, .md, .html, .pdf) in the corpus and the index",
        description="Copy article files into the corpus folder and index them in place: unchanged "
                    "files are skipped, changed ones replace their old passages. Folders add their "
                    "files (not sub-folders). Unusable files are refused with one warning each.")
    add.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="article files or folders")
    add_index_options(add)
    add.set_defaults(handler=run_add)

    remove = subparsers.add_parser(
        "remove", help="remove articles from the corpus folder and the index",
        description="Delete the articles DOC_ID (file names, see qa list) from the corpus folder "
                    "and remove their passages from the index.")
    remove.add_argument("doc_ids", nargs="+", metavar="DOC_ID", help="document ids (file names)")
    add_index_options(remove)
    remove.set_defaults(handler=run_remove)

    listing = subparsers.add_parser("list", help="list the indexed articles",
                                    description="List the documents in the index.")
    listing.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    add_index_options(listing)
    listing.set_defaults(handler=run_list)


def run_add(args: argparse.Namespace) -> int:
    from embeddings.indexing import article_files

    settings = settings_from_args(args)
    # A missing path is the user's mistake: say so before the index is opened (and perhaps
    # rebuilt over --corpus), not after.
    if not article_files(args.paths):
        raise QAError(f"no files in {', '.join(map(str, args.paths))}; give article files or folders")
    system = args.load_system(settings, parts="retrieval", allow_empty=True)
    report = system.add(args.paths)
    if report.dropped:
        print(f"(the index also dropped {len(report.dropped)} documents deleted from {settings.corpus_dir})")
    status = system.status()
    print(f"added {len(report.added)}, updated {len(report.updated)}, unchanged {len(report.unchanged)}, "
          f"skipped {len(report.skipped)}; {report.chunks} chunks embedded; {report.seconds:.1f} s; "
          f"index {status.store or settings.index_dir}: {status.articles} documents, {status.passages} chunks, "
          f"index type {status.index_kind}, retrieval {status.mode}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    system = args.load_system(settings, parts="retrieval")
    changes = system.remove(args.doc_ids)
    status = system.status()
    print(f"removed {len(changes.removed)} documents ({changes.chunks_removed} chunks) from "
          f"{settings.corpus_dir} and {status.store or settings.index_dir}; {status.articles} documents, "
          f"{status.passages} chunks left ({changes.seconds:.1f} s)")
    return 0


def run_list(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    system = args.load_system(settings, parts="index")
    rows = system.rows()
    status = system.status()
    if args.json:
        json.dump({"index_dir": str(settings.index_dir), "store": status.store, "index_kind": status.index_kind,
                   "documents": rows}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    width = max([len(r["doc_id"]) for r in rows] + [6])
    print(f"{'doc_id':<{width}}  {'outlet':<10}  {'date':<10}  {'chars':>7}  {'chunks':>6}  title")
    for r in rows:
        print(printable(f"{r['doc_id']:<{width}}  {r['outlet'] or '-':<10}  {r['date'] or '-':<10}  "
                        f"{r['chars']:>7}  {r['chunks']:>6}  {r['title']}"))
    print(f"{len(rows)} documents, {status.passages} chunks")
    return 0
