"""``qa index`` builds or refreshes the index; ``qa search`` shows the passages it retrieves."""
from __future__ import annotations

import argparse
import sys

from embeddings.errors import QAError
from embeddings.formats import page_label
from qa.answering.present import hit_json
from qa.commands.output import printable
from qa.retrieval.retriever import MODES, check_mode, parse_date
from qa.settings import Settings, add_index_options, folder_argument, settings_from_args


def register(subparsers) -> None:
    index = subparsers.add_parser(
        "index", help="build or refresh the index over a corpus folder",
        description="Chunk and embed the articles of CORPUS_DIR into a FAISS + BM25 index. An "
                    "up-to-date index is left alone; articles added, edited or deleted in the folder "
                    "are applied in place; a changed model or chunking rebuilds it.")
    index.add_argument("corpus_dir", nargs="?", type=folder_argument, default=None, metavar="CORPUS_DIR",
                       help="folder of .txt/.md/.html/.pdf articles (default: seeds/)")
    add_index_options(index, corpus=False)
    index.add_argument("--chunk-tokens", type=int, default=None, help="token budget per chunk (default 200)")
    index.add_argument("--chunk-overlap", type=int, default=None, help="sentences repeated between chunks (default 1)")
    index.add_argument("--index-kind", choices=("auto", "flat", "hnsw", "ivfpq"), default=None,
                       help="FAISS index type (default auto: flat up to 50k chunks, hnsw above)")
    index.add_argument("--mode", dest="retrieval_mode", choices=MODES, default=None,
                       help="retrieval mode to report (default hybrid or $QA_RETRIEVAL_MODE)")
    index.add_argument("--rebuild", action="store_true", help="rebuild even if the index is up to date")
    index.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                       help="split and embed on a Ray cluster: the head's host:port or ray://host:10001 "
                            "(no ADDRESS: $RAY_ADDRESS, else a local Ray started for this run)")
    index.add_argument("--ray-workers", type=int, default=None, metavar="N",
                       help="embedding actors on Ray (default 1), each with the cluster's CPUs shared out")
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
    options = {}
    if args.ray is not None:
        options["encode_corpus"] = ray_encoder(args, settings)
    elif args.ray_workers is not None:
        raise QAError("--ray-workers needs --ray [ADDRESS]")
    # qa index makes the index match the corpus folder, a database too (other commands leave a
    # database as it is: QASystem.load's sync_corpus)
    system = args.load_system(settings, parts="retrieval", rebuild=args.rebuild, sync_corpus=True, **options)
    status, index_status = system.status(), system.index_status
    print(f"index {status.store or settings.index_dir}: {index_status.state}; {status.articles} documents, "
          f"{status.passages} chunks, model {status.model}, index type {status.index_kind}, "
          f"retrieval {status.mode} ({index_status.seconds:.1f} s)")
    for reason in index_status.reasons:
        print(f"  because {reason}")
    if index_status.changes is not None:
        print(f"  {index_status.changes.summary()}")
    return 0


def ray_encoder(args: argparse.Namespace, settings: Settings):
    """The ``CorpusEncoder`` that chunks and embeds on Ray with the settings' model and backend."""
    from embeddings.ray_indexing import RayCorpusEncoder

    return RayCorpusEncoder(model=settings.embedding_model, backend=settings.embedding_backend,
                            cache_dir=settings.cache_dir, address=args.ray or None,
                            workers=1 if args.ray_workers is None else args.ray_workers)


def run_search(args: argparse.Namespace) -> int:
    import json

    from qa.answering.question import check_question
    from qa.system import check_limits

    settings = settings_from_args(args)
    question = check_question(args.question)
    check_limits(k=settings.k)   # before the index opens, as qa ask does
    check_mode(settings.retrieval_mode)
    filters = {"doc_ids": args.doc_ids, "outlet": args.outlet,
               "date_from": parse_date(args.date_from, name="--since"),
               "date_to": parse_date(args.date_to, name="--until")}
    system = args.load_system(settings, parts="retrieval", allow_rebuild=not args.no_rebuild,
                              show_progress=False)
    hits = system.search(question, k=settings.k, **filters)
    status = system.status()
    if args.json:
        json.dump({"question": question, "retrieval": status.mode, "index_kind": status.index_kind,
                   "filters": {k: v for k, v in filters.items() if v is not None},
                   "hits": [hit_json(h) for h in hits]}, sys.stdout, ensure_ascii=False)
        print()
        return 0
    documents = system.documents
    for hit in hits:
        data = hit_json(hit)
        meta = ", ".join(f"{k}: {v}" for k, v in data["metadata"].items())
        page = page_label(documents.get(hit.doc_id), hit.chunk.start, hit.chunk.end)
        if page is not None:
            meta = page + (", " + meta if meta else "")
        print(printable(f"[{hit.rank}] {hit.score:.3f}  {hit.title}  ({hit.doc_id} {hit.chunk.start}-"
                        f"{hit.chunk.end}{'; ' + meta if meta else ''})"))
        print("    " + printable(hit.chunk.text).replace("\n", "\n    "))
        print()
    if not hits:
        print("no passages found" + (" (the filters leave no document)" if any(
            v is not None for v in filters.values()) and system.filter_documents(**filters) == [] else ""))
    return 0
