"""``qa add``, ``qa remove``, ``qa list``: a living corpus, updated in place without rebuilds.

The corpus folder (``--corpus``, default seeds/) is the source of truth: ``qa add`` copies the
article files into it and indexes them; ``qa remove`` deletes them from it and from the index.
So ``qa index`` and every later start agree with what was added or removed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from qa.commands.index import add_index_options, settings_from_args
from qa.errors import QAError


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
    from embeddings.indexing import IndexChanges, add_to_corpus, article_files, copy_into_corpus, \
        corpus_has_articles, load_articles
    from qa.build import build_retriever

    settings = settings_from_args(args)
    started = time.perf_counter()
    files = article_files(args.paths)
    if not files:
        raise QAError(f"no files in {', '.join(map(str, args.paths))}; give article files or folders")
    if not corpus_has_articles(settings.corpus_dir):
        # A new corpus: the added files are all of it, so a plain build over the folder is the update.
        loaded, skipped = load_articles(files)
        if not loaded:
            raise QAError("none of the given files is a usable article (see the warnings above)")
        copy_into_corpus([file for file, _ in loaded], settings.corpus_dir)
        retriever, status = build_retriever(settings, rebuild=True)
        added, updated, unchanged, chunks = len(loaded), 0, 0, len(retriever.index)
    else:
        retriever, status = build_retriever(settings)
        update = add_to_corpus(retriever.index, files, retriever.embedder, corpus_dir=settings.corpus_dir,
                               index_dir=settings.index_dir)
        skipped = update.skipped
        changes = update.changes
        # Files edited inside the corpus folder were already picked up when the index was opened.
        synced = status.changes if status.changes is not None else IndexChanges()
        fresh = set(synced.added) | set(synced.updated)
        added = len(changes.added) + len(synced.added)
        updated = len(changes.updated) + len(synced.updated)
        unchanged = len([d for d in changes.unchanged if d not in fresh])
        chunks = changes.chunks_added + synced.chunks_added
        if synced.removed:
            print(f"(the index also dropped {len(synced.removed)} documents deleted from {settings.corpus_dir})")
    index = retriever.index
    print(f"added {added}, updated {updated}, unchanged {unchanged}, skipped {len(skipped)}; "
          f"{chunks} chunks embedded; {time.perf_counter() - started:.1f} s; "
          f"index {settings.index_dir}: {len(index.documents)} documents, {len(index)} chunks, "
          f"index type {index.manifest.index_kind}, retrieval {retriever.mode}")
    return 0


def run_remove(args: argparse.Namespace) -> int:
    from embeddings.indexing import remove_from_corpus
    from qa.build import build_retriever

    settings = settings_from_args(args)
    retriever, _ = build_retriever(settings)
    changes = remove_from_corpus(retriever.index, args.doc_ids, corpus_dir=settings.corpus_dir,
                                 index_dir=settings.index_dir)
    index = retriever.index
    print(f"removed {len(changes.removed)} documents ({changes.chunks_removed} chunks) from "
          f"{settings.corpus_dir} and {settings.index_dir}; {len(index.documents)} documents, "
          f"{len(index)} chunks left ({changes.seconds:.1f} s)")
    return 0


def document_rows(index) -> list[dict]:
    """One row per document: id, title, outlet, date, characters, chunks (sorted by id)."""
    counts: dict[str, int] = {}
    for chunk in index.chunks.values():
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    return [{"doc_id": doc.doc_id, "title": doc.title, "outlet": doc.metadata.get("outlet"),
             "date": doc.metadata.get("date"), "chars": len(doc.text), "chunks": counts.get(doc.doc_id, 0)}
            for doc in sorted(index.documents.values(), key=lambda d: d.doc_id)]


def run_list(args: argparse.Namespace) -> int:
    import logging

    from embeddings.documents import load_corpus
    from embeddings.store import ChunkIndex, corpus_fingerprint

    settings = settings_from_args(args)
    index = ChunkIndex.load(settings.index_dir)
    try:
        current = corpus_fingerprint(load_corpus(settings.corpus_dir))
    except QAError:
        current = None
    if current != index.manifest.corpus_fingerprint:
        logging.getLogger(__name__).warning(
            "the index in %s does not match the corpus %s; qa index brings it up to date",
            settings.index_dir, settings.corpus_dir)
    rows = document_rows(index)
    if args.json:
        json.dump({"index_dir": str(settings.index_dir), "index_kind": index.manifest.index_kind,
                   "documents": rows}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    width = max([len(r["doc_id"]) for r in rows] + [6])
    print(f"{'doc_id':<{width}}  {'outlet':<10}  {'date':<10}  {'chars':>7}  {'chunks':>6}  title")
    for r in rows:
        print(f"{r['doc_id']:<{width}}  {r['outlet'] or '-':<10}  {r['date'] or '-':<10}  "
              f"{r['chars']:>7}  {r['chunks']:>6}  {r['title']}")
    print(f"{len(rows)} documents, {len(index)} chunks")
    return 0
