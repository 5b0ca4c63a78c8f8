"""``qa index`` builds or refreshes the index; ``qa search`` shows the passages it retrieves."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from embeddings.formats import HIDDEN_METADATA, page_label
from qa.build import build_retriever
from qa.retriever import MODES, check_mode, parse_date
from qa.settings import Settings


def folder_argument(value: str) -> Path:
    """An argparse type for --corpus / --index-dir: an empty value would be the current folder
    (``Path("")`` is "."), and an index "brought up to date" with whatever lies there."""
    if not value.strip():
        raise argparse.ArgumentTypeError("empty path; name a folder (. for the current one)")
    return Path(value)


def add_index_options(parser: argparse.ArgumentParser) -> None:
    """Options every command that opens the index shares."""
    parser.add_argument("--corpus", dest="corpus_dir", type=folder_argument, default=None,
                        help="folder of .txt/.md/.html/.pdf articles (default: seeds/ or $QA_CORPUS_DIR)")
    parser.add_argument("--index-dir", type=folder_argument, default=None,
                        help="where the index lives (default: index/ or $QA_INDEX_DIR)")
    parser.add_argument("--model", dest="embedding_model", default=None,
                        help="sentence-transformers model name or folder (default: e5-small, offline)")


def settings_from_args(args: argparse.Namespace) -> Settings:
    fields = ("corpus_dir", "index_dir", "embedding_model", "reader_model", "retrieval_mode", "index_kind",
              "chunk_tokens", "chunk_overlap", "k", "top_n", "host", "port")
    return Settings.from_env().replace(**{f: getattr(args, f, None) for f in fields})


def register(subparsers) -> None:
    index = subparsers.add_parser(
        "index", help="build or refresh the index over a corpus folder",
        description="Chunk and embed the articles of CORPUS_DIR into a FAISS + BM25 index. An "
                    "up-to-date index is left alone; articles added, edited or deleted in the folder "
                    "are applied in place; a changed model or chunking rebuilds it.")
    index.add_argument("corpus_dir", nargs="?", type=folder_argument, default=None, metavar="CORPUS_DIR",
                       help="folder of .txt/.md/.html/.pdf articles (default: seeds/)")
    index.add_argument("--index-dir", type=folder_argument, default=None,
                       help="where to write the index (default: index/)")
    index.add_argument("--model", dest="embedding_model", default=None,
                       help="sentence-transformers model name or folder (default: e5-small, offline)")
    index.add_argument("--chunk-tokens", type=int, default=None, help="token budget per chunk (default 200)")
    index.add_argument("--chunk-overlap", type=int, default=None, help="sentences repeated between chunks (default 1)")
    index.add_argument("--index-kind", choices=("auto", "flat", "hnsw", "ivfpq"), default=None,
                       help="FAISS index type (default auto: flat up to 50k chunks, hnsw above)")
    index.add_argument("--mode", dest="retrieval_mode", choices=MODES, default=None,
                       help="retrieval mode to report (default hybrid or $QA_RETRIEVAL_MODE)")
    index.add_argument("--rebuild", action="store_true", help="rebuild even if the index is up to date")
    index.set_defaults(handler=run_index)

    search = subparsers.add_parser("search", help="show the passages retrieved for a question",
                                   description="Retrieve the passages most similar to QUESTION.")
    search.add_argument("question", help="the question, German or English")
    search.add_argument("--k", type=int, default=None, help="how many passages (default 3)")
    search.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    search.add_argument("--mode", dest="retrieval_mode", choices=MODES, default=None,
                        help="dense (e5), bm25 (German BM25) or hybrid (both fused; the default)")
    search.add_argument("--doc", dest="doc_ids", action="append", default=None, metavar="DOC_ID",
                        help="only this document (repeatable; ids as in qa list)")
    search.add_argument("--outlet", action="append", default=None,
                        help="only articles from this outlet, e.g. dpa (repeatable, case-insensitive)")
    search.add_argument("--since", dest="date_from", default=None, metavar="YYYY-MM-DD",
                        help="only articles dated on or after this day (undated articles are left out)")
    search.add_argument("--until", dest="date_to", default=None, metavar="YYYY-MM-DD",
                        help="only articles dated on or before this day (undated articles are left out)")
    search.add_argument("--no-rebuild", action="store_true",
                        help="use the existing index even if it is stale (say what changed)")
    add_index_options(search)
    search.set_defaults(handler=run_search)


def run_index(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    retriever, status = build_retriever(settings, rebuild=args.rebuild)
    index = retriever.index
    state = status.state
    print(f"index {settings.index_dir}: {state}; {len(index.documents)} documents, {len(index)} chunks, "
          f"model {index.manifest.model_name}, index type {index.manifest.index_kind}, "
          f"retrieval {retriever.mode} ({status.seconds:.1f} s)")
    for reason in status.reasons:
        print(f"  because {reason}")
    if status.changes is not None:
        print(f"  {status.changes.summary()}")
    return 0


def hit_to_json(hit) -> dict:
    data = {"rank": hit.rank, "score": round(hit.score, 6), "doc_id": hit.doc_id, "title": hit.title,
            "metadata": {k: v for k, v in hit.metadata.items() if k not in HIDDEN_METADATA},
            "start": hit.chunk.start, "end": hit.chunk.end, "text": hit.chunk.text}
    if hit.dense_score is not None:
        data["dense_score"] = round(hit.dense_score, 6)
    return data


def run_search(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    from qa.retriever import check_question

    question = check_question(args.question)
    check_mode(settings.retrieval_mode)
    filters = {"doc_ids": args.doc_ids, "outlet": args.outlet,
               "date_from": parse_date(args.date_from, name="--since"),
               "date_to": parse_date(args.date_to, name="--until")}
    retriever, status = build_retriever(settings, allow_rebuild=not args.no_rebuild, show_progress=False)
    hits = retriever.search(question, k=settings.k, **filters)
    if args.json:
        json.dump({"question": question, "retrieval": retriever.mode,
                   "index_kind": retriever.index.manifest.index_kind,
                   "filters": {k: v for k, v in filters.items() if v is not None},
                   "hits": [hit_to_json(h) for h in hits]}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    for hit in hits:
        meta = ", ".join(f"{k}: {v}" for k, v in hit.metadata.items() if k not in HIDDEN_METADATA)
        page = page_label(retriever.documents.get(hit.doc_id), hit.chunk.start, hit.chunk.end)
        if page is not None:
            meta = page + (", " + meta if meta else "")
        print(f"[{hit.rank}] {hit.score:.3f}  {hit.title}  ({hit.doc_id} {hit.chunk.start}-{hit.chunk.end}"
              f"{'; ' + meta if meta else ''})")
        print("    " + hit.chunk.text.replace("\n", "\n    "))
        print()
    if not hits:
        print("no passages found" + (" (the filters leave no document)" if any(
            v is not None for v in filters.values()) and retriever.filter_documents(**filters) == [] else ""))
    return 0
