"""The index in PostgreSQL: pgvector (HNSW, cosine) for the dense side, PostgreSQL's own
full-text search with the ``german`` configuration (Snowball stems, a GIN index) scored as
BM25 for the keyword side, and the manifest in a table. Chosen with ``--store URL`` /
``QA_STORE=postgresql://user:pass@host:port/db``; the embedded FAISS + bm25s index
(embeddings/store.py) stays the default.

Tables (one *generation* of an index is one set of them; a rebuild writes a new generation
and switches to it in the same transaction):

- ``newsqa_manifest`` (one row): ``generation``, ``version`` (bumped by every committed
  change: other processes compare it to pick changes up), ``fields`` (the IndexManifest as
  JSON: model name and fingerprint, dimension, chunking, corpus fingerprint, the corpus files'
  size and mtime, counts, next chunk id).
- ``newsqa_documents_g<N>`` (doc_id, title, text, metadata json, hash).
- ``newsqa_chunks_g<N>`` (id, doc_id, start, end, text, sentences jsonb, n_terms, embedding
  vector(dim) with an HNSW ``vector_cosine_ops`` index, tsv tsvector generated as
  ``to_tsvector('german', text)`` with a GIN index).
- ``newsqa_terms_g<N>`` (lexeme, df): document frequencies for BM25's IDF, kept in step by
  every write; ``newsqa_stats_g<N>`` (chunks, terms) for the average chunk length.

Writes are transactions on the writer's connection, which also holds the writer's advisory
lock (``pg_advisory_lock``): a batch of articles is committed with the manifest and its new
version, or not at all. A build is one transaction too (new generation tables, bulk load,
index builds, switch): a crash or a dropped connection rolls it back, so a half-done index is
never served. Chunk ids are assigned from the manifest's ``next_chunk_id``, as in the
embedded store, so both stores give the same ids for the same history of changes.

Known differences from the embedded store: the HNSW search is approximate (the embedded
store is exact below 50k chunks); stems and stop words are PostgreSQL's ``german``
configuration, not PyStemmer's with our stop list; German compounds are not split; BM25 is
computed in SQL (Lucene's IDF, k1 1.5, b 0.75) over the lexemes PostgreSQL produces.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Callable, Collection, Iterable, Iterator, Sequence
from urllib.parse import urlsplit

import numpy as np

from embeddings.chunking import Chunk
from embeddings.documents import Document
from embeddings.errors import QAError
from embeddings.store import IndexManifest, check_addition, check_relabel, document_hash

log = logging.getLogger(__name__)

SCHEMES = ("postgresql", "postgres")
PREFIX = "newsqa"
MANIFEST_TABLE = f"{PREFIX}_manifest"
INDEX_KIND = "pgvector-hnsw"
# pg_advisory_lock key of the writer: hashtext('newsqa-writer') would do as well; a constant is clearer.
WRITER_LOCK_KEY = 0x6E657773_7161   # "newsqa"
# HNSW search: candidates kept per query (pgvector's default is 40); at least 2 k.
EF_SEARCH = 100
# A filtered dense search over at most this many chunks is exact (a scan of the allowed ones);
# above it HNSW's iterative scan (pgvector 0.8) keeps looking until k allowed rows are found.
EXACT_FILTER_LIMIT = 20_000
# Tables of at most this many rows are read whole on first use (one query instead of one per row).
EAGER_ROWS = 5000
BM25_K1 = 1.5
# Full text: a lexeme in more than this share of all chunks (and more than COMMON_MIN chunks)
# scores candidates but does not select them (see PgIndex.search_bm25).
COMMON_SHARE = 0.05
COMMON_MIN = 1000
BM25_B = 0.75


def is_database_url(store: object) -> bool:
    return isinstance(store, str) and urlsplit(store).scheme in SCHEMES


def describe_url(url: str) -> str:
    """"PostgreSQL db@host" (no user or password), for headers, logs and messages."""
    parts = urlsplit(url)
    database = parts.path.lstrip("/") or "postgres"
    host = parts.hostname or "localhost"
    if not parts.hostname and "host=" in parts.query:   # a socket folder, as pgserver gives
        host = "local socket"
    port = f":{parts.port}" if parts.port else ""
    return f"PostgreSQL {database}@{host}{port}"


def _first_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text[:300]


@contextmanager
def _database_errors(url: str, what: str) -> Iterator[None]:
    """psycopg's errors as one-line QAErrors that say where and what to do."""
    import psycopg

    try:
        yield
    except QAError:
        raise
    except psycopg.OperationalError as error:
        raise QAError(f"lost or could not open the connection to {describe_url(url)} while {what} "
                      f"({_first_line(error)}); nothing was changed by this step; check --store / QA_STORE "
                      "and that the server is up, then run the command again") from None
    except psycopg.Error as error:
        raise QAError(f"{describe_url(url)} refused {what} ({_first_line(error)})") from None


def connect(url: str, *, purpose: str = "reader"):
    """An autocommit connection with pgvector's types registered; QAError when it cannot be had."""
    import psycopg

    if not is_database_url(url):
        raise QAError(f"{url!r} is not a PostgreSQL URL; write postgresql://user:password@host:port/database")
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, application_name=f"newsqa-{purpose}")
    except psycopg.Error as error:
        raise QAError(f"cannot connect to {describe_url(url)} ({_first_line(error)}); "
                      "check --store / QA_STORE (postgresql://user:password@host:port/database)") from None
    with _database_errors(url, "loading pgvector"):
        has_vector = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()
        if has_vector:
            from pgvector.psycopg import register_vector

            register_vector(conn)
    return conn


def ensure_pgvector(conn, url: str) -> None:
    """CREATE EXTENSION vector (a writer's first step); a server without pgvector is one clear line."""
    import psycopg

    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone():
        return
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    except psycopg.Error as error:
        raise QAError(f"{describe_url(url)} has no pgvector: CREATE EXTENSION vector failed "
                      f"({_first_line(error)}); install pgvector on the server (managed services: enable "
                      "the 'vector' extension) or ask its administrator to run CREATE EXTENSION vector") from None
    from pgvector.psycopg import register_vector

    register_vector(conn)


def read_manifest_row(conn, url: str) -> tuple[int, int, dict] | None:
    """(generation, version, fields) of the current index, or None when there is none."""
    with _database_errors(url, "reading the index manifest"):
        exists = conn.execute("SELECT to_regclass(%s)", (MANIFEST_TABLE,)).fetchone()[0]
        if exists is None:
            return None
        try:
            row = conn.execute(f"SELECT generation, version, fields FROM {MANIFEST_TABLE} WHERE id = 1").fetchone()
        except Exception as error:
            raise QAError(f"{describe_url(url)} has a table {MANIFEST_TABLE} that is not a newsqa manifest "
                          f"({_first_line(error)}); use another database or drop the newsqa_* tables") from None
    return None if row is None else (int(row[0]), int(row[1]), dict(row[2]))


def _tables(generation: int) -> dict[str, str]:
    return {name: f"{PREFIX}_{name}_g{generation}" for name in ("documents", "chunks", "terms", "stats")}


def _words_count(text: str) -> int:
    from embeddings.bm25 import words_of

    return len(words_of(text))


@dataclass(frozen=True, slots=True)
class FullText:
    """What the keyword side is: PostgreSQL full-text search, scored as BM25 in SQL. Stands in the
    index's ``bm25`` attribute (the retriever asks whether there is a keyword side)."""

    config: str = "german"
    k1: float = BM25_K1
    b: float = BM25_B
    split_compounds: bool = False


class _Rows(Mapping):
    """A read-only mapping over a table, fetched on demand and cached (documents or chunks)."""

    def __init__(self, keys: Callable[[], list], fetch_many: Callable[[object], dict]) -> None:
        self._keys_of = keys
        self._fetch_many = fetch_many
        self._keys: list | None = None
        self._cache: dict = {}
        self._complete = False

    def reset(self) -> None:
        self._keys, self._cache, self._complete = None, {}, False

    def remember(self, key, value) -> None:
        self._cache[key] = value

    def _all_keys(self) -> list:
        if self._keys is None:
            self._keys = self._keys_of()
        return self._keys

    def __getitem__(self, key):
        if key in self._cache:
            return self._cache[key]
        if not self._complete and len(self._all_keys()) <= EAGER_ROWS:
            self._load_all()       # a small corpus: one query for all, not one per row
            return self._cache[key]
        found = self._fetch_many([key])
        if key not in found:
            raise KeyError(key)
        self._cache.update(found)
        return found[key]

    def __contains__(self, key) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True

    def __iter__(self):
        return iter(self._all_keys())

    def __len__(self) -> int:
        return len(self._all_keys())

    def _load_all(self) -> None:
        if not self._complete:
            self._cache = dict(self._fetch_many(None))
            self._keys = sorted(self._cache, key=lambda k: (isinstance(k, str), k))
            self._complete = True

    def values(self):
        self._load_all()
        return [self._cache[k] for k in self._keys]

    def items(self):
        self._load_all()
        return [(k, self._cache[k]) for k in self._keys]


class PgIndex:
    """One generation of the index in PostgreSQL: searchable, updatable in a transaction.

    The same surface as embeddings.store.ChunkIndex (``manifest``, ``documents``, ``chunks``,
    ``search``, ``search_bm25``, ``similarities``, ``chunk_ids``, ``add_documents``,
    ``remove_documents``, ``version``); changes are committed by :meth:`commit` (the store's
    ``save``). Documents and chunks are read on demand, not held in memory."""

    def __init__(self, url: str, *, generation: int, version: int, manifest: IndexManifest,
                 conn=None) -> None:
        self.url = url
        self.generation = generation
        self.manifest = manifest
        self.version: str | None = str(version)
        self.bm25 = FullText()
        self.tables = _tables(generation)
        self._conn = conn
        self._lock = threading.RLock()
        self._in_transaction = False
        self.documents = _Rows(self._document_ids, self._fetch_documents)
        self.chunks = _Rows(self._chunk_id_list, self._fetch_chunks)

    # ---- connection --------------------------------------------------------------------

    @property
    def conn(self):
        if self._conn is None or self._conn.closed:
            if self._in_transaction:
                raise QAError(f"lost the connection to {describe_url(self.url)} in the middle of a change; "
                              "nothing of it was committed; run the command again")
            self._conn = connect(self.url)
        return self._conn

    def _execute(self, sql: str, params=(), *, what: str = "a search"):
        with self._lock, _database_errors(self.url, what):
            return self.conn.execute(sql, params)

    def _begin(self) -> None:
        if not self._in_transaction:
            with _database_errors(self.url, "starting a change"):
                self.conn.execute("BEGIN")
            self._in_transaction = True

    # ---- reading -----------------------------------------------------------------------

    def __len__(self) -> int:
        row = self._execute(f"SELECT chunks FROM {self.tables['stats']} WHERE id = 1").fetchone()
        return 0 if row is None else int(row[0])

    def _document_ids(self) -> list[str]:
        rows = self._execute(f"SELECT doc_id FROM {self.tables['documents']} ORDER BY doc_id").fetchall()
        return sorted(r[0] for r in rows)

    def _chunk_id_list(self) -> list[int]:
        rows = self._execute(f"SELECT id FROM {self.tables['chunks']} ORDER BY id").fetchall()
        return [int(r[0]) for r in rows]

    def _fetch_documents(self, keys) -> dict[str, Document]:
        sql = f"SELECT doc_id, title, text, metadata FROM {self.tables['documents']}"
        rows = (self._execute(sql).fetchall() if keys is None
                else self._execute(sql + " WHERE doc_id = ANY(%s)", (list(keys),)).fetchall())
        return {r[0]: Document(doc_id=r[0], title=r[1], text=r[2], metadata=MappingProxyType(dict(r[3] or {})))
                for r in rows}

    _CHUNK_COLUMNS = 'id, doc_id, start, "end", text, sentences'

    @staticmethod
    def _chunk(row) -> Chunk:
        return Chunk(doc_id=row[1], start=int(row[2]), end=int(row[3]), text=row[4],
                     sentences=tuple((int(a), int(b)) for a, b in (row[5] or ())))

    def _fetch_chunks(self, keys) -> dict[int, Chunk]:
        sql = f"SELECT {self._CHUNK_COLUMNS} FROM {self.tables['chunks']}"
        rows = (self._execute(sql).fetchall() if keys is None
                else self._execute(sql + " WHERE id = ANY(%s)", ([int(k) for k in keys],)).fetchall())
        return {int(r[0]): self._chunk(r) for r in rows}

    def chunk_ids(self, doc_ids: Iterable[str]) -> list[int]:
        doc_ids = list(doc_ids)
        if not doc_ids:
            return []
        rows = self._execute(f"SELECT id, doc_id FROM {self.tables['chunks']} WHERE doc_id = ANY(%s) ORDER BY id",
                             (doc_ids,)).fetchall()
        order = {d: i for i, d in enumerate(doc_ids)}
        return [int(r[0]) for r in sorted(rows, key=lambda r: (order[r[1]], r[0]))]

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document (for listings), in one query."""
        rows = self._execute(f"SELECT doc_id, count(*) FROM {self.tables['chunks']} GROUP BY doc_id").fetchall()
        return {r[0]: int(r[1]) for r in rows}

    # ---- search ------------------------------------------------------------------------

    def _filter(self, doc_ids: Iterable[str] | None, allowed_ids: Collection[int] | None) -> tuple[str, list]:
        clauses, params = [], []
        if doc_ids is not None:
            clauses.append("doc_id = ANY(%s)")
            params.append(list(doc_ids))
        if allowed_ids is not None:
            clauses.append("id = ANY(%s)")
            params.append([int(i) for i in allowed_ids])
        return (" AND ".join(clauses), params)

    def search(self, query_vectors: np.ndarray, *, k: int, doc_ids: Iterable[str] | None = None,
               allowed_ids: Collection[int] | None = None, exact: bool = False) -> list[list[tuple[int, float]]]:
        """Top-k (chunk id, cosine) per query vector: pgvector's HNSW (``hnsw.ef_search`` at least
        2 k), or an exact scan when a filter leaves few chunks (or ``exact``)."""
        query_vectors = np.ascontiguousarray(query_vectors, dtype=np.float32)
        where, params = self._filter(doc_ids, allowed_ids)
        if (doc_ids is not None and not list(doc_ids)) or (allowed_ids is not None and not len(allowed_ids)):
            return [[] for _ in range(len(query_vectors))]
        table = self.tables["chunks"]
        filtered = bool(where)
        if filtered and not exact:
            count = self._execute(f"SELECT count(*) FROM {table} WHERE {where}", params).fetchone()[0]
            exact = count <= EXACT_FILTER_LIMIT
        results = []
        for vector in query_vectors:
            if exact:
                # MATERIALIZED keeps the planner from walking the HNSW graph: every allowed row is scored.
                sql = (f"WITH c AS MATERIALIZED (SELECT {self._CHUNK_COLUMNS}, embedding FROM {table}"
                       f"{' WHERE ' + where if where else ''}) "
                       f"SELECT {self._CHUNK_COLUMNS}, 1 - (embedding <=> %s) AS score FROM c "
                       "ORDER BY embedding <=> %s, id LIMIT %s")
                rows = self._search_rows(sql, [*params, vector, vector, k], filtered=False, k=k)
            else:
                # Iterative scans (pgvector 0.8) go on walking the graph until k rows pass a filter;
                # relaxed order is sorted again outside.
                sql = (f"WITH c AS MATERIALIZED (SELECT {self._CHUNK_COLUMNS}, embedding <=> %s AS distance "
                       f"FROM {table}{' WHERE ' + where if where else ''} ORDER BY distance LIMIT %s) "
                       f"SELECT {self._CHUNK_COLUMNS}, 1 - distance AS score FROM c ORDER BY distance, id")
                rows = self._search_rows(sql, [vector, *params, k], filtered=filtered, k=k)
            results.append(rows)
        return results

    def _search_rows(self, sql: str, params: list, *, filtered: bool, k: int) -> list[tuple[int, float]]:
        with self._lock, _database_errors(self.url, "a dense search"):
            conn = self.conn
            with conn.transaction():
                conn.execute(f"SET LOCAL hnsw.ef_search = {max(EF_SEARCH, 2 * k)}")
                if filtered:
                    conn.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                rows = conn.execute(sql, params).fetchall()
        out = []
        for row in rows:
            self.chunks.remember(int(row[0]), self._chunk(row))
            out.append((int(row[0]), float(row[-1])))
        return out

    def similarities(self, query_vector: np.ndarray, chunk_ids: Sequence[int]) -> dict[int, float]:
        ids = [int(i) for i in chunk_ids]
        if not ids:
            return {}
        query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(-1)
        rows = self._execute(f"SELECT id, 1 - (embedding <=> %s) FROM {self.tables['chunks']} WHERE id = ANY(%s)",
                             (query, ids)).fetchall()
        return {int(r[0]): float(r[1]) for r in rows}

    def query_lexemes(self, question: str) -> list[str]:
        """The lexemes PostgreSQL's german configuration makes of ``question`` (stop words dropped)."""
        row = self._execute("SELECT tsvector_to_array(to_tsvector('german', %s))", (question,)).fetchone()
        return sorted(row[0] or [])

    def search_bm25(self, question: str, *, k: int, doc_ids: Iterable[str] | None = None,
                    allowed_ids: Collection[int] | None = None) -> list[tuple[int, float]]:
        """Top-k (chunk id, BM25 score): chunks sharing a lexeme with the question (GIN index on the
        tsvector, an OR query), scored as BM25 with the document frequencies of the terms table.

        In a large index the candidates come from the question's selective lexemes only: one in
        more than COMMON_SHARE of all chunks (and more than COMMON_MIN) still scores the
        candidates but does not make a chunk one (it would make most of the table one, for a
        small IDF). Small indexes score every chunk sharing any lexeme, as BM25 does."""
        if (doc_ids is not None and not list(doc_ids)) or (allowed_ids is not None and not len(allowed_ids)) or k < 1:
            return []
        lexemes = self.query_lexemes(question)
        if not lexemes:
            return []
        t = self.tables
        n_chunks, df = self._execute(
            f"SELECT (SELECT chunks FROM {t['stats']} WHERE id = 1), "
            f"coalesce(json_object_agg(lexeme, df), '{{}}') FROM {t['terms']} WHERE lexeme = ANY(%s)",
            (lexemes,)).fetchone()
        df = dict(df or {})
        if not df:
            return []
        common = max(COMMON_MIN, COMMON_SHARE * int(n_chunks or 0))
        selective = [lexeme for lexeme in df if df[lexeme] <= common] or [min(df, key=lambda lexeme: (df[lexeme], lexeme))]
        tsquery = " | ".join("'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'" for lexeme in sorted(selective))
        where, params = self._filter(doc_ids, allowed_ids)
        sql = (
            f"WITH s AS (SELECT chunks, terms FROM {t['stats']} WHERE id = 1), "
            f"q AS (SELECT lexeme, ln(1 + ((SELECT chunks FROM s) - df + 0.5) / (df + 0.5)) AS idf "
            f"      FROM {t['terms']} WHERE lexeme = ANY(%s)), "
            f"c AS (SELECT id, tsv, n_terms FROM {t['chunks']} WHERE tsv @@ %s::tsquery"
            f"{' AND ' + where if where else ''}) "
            f"SELECT c.id, sum(q.idf * u.tf / (u.tf + %s * (1 - %s + %s * c.n_terms / "
            f"   greatest((SELECT terms FROM s)::float8 / greatest((SELECT chunks FROM s), 1), 1)))) AS score "
            f"FROM c CROSS JOIN LATERAL (SELECT lexeme, coalesce(array_length(positions, 1), 1) AS tf "
            f"   FROM unnest(c.tsv)) u JOIN q ON q.lexeme = u.lexeme "
            f"GROUP BY c.id ORDER BY score DESC, c.id LIMIT %s")
        rows = self._execute(sql, [lexemes, tsquery, *params, BM25_K1, BM25_B, BM25_B, k]).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows if r[1] > 0]

    # ---- updates (one transaction until commit) ----------------------------------------

    def add_documents(self, documents: Sequence[Document], chunks: Sequence[Chunk],
                      vectors: np.ndarray) -> list[int]:
        """Add ``documents`` with their chunks and vectors (replacing documents of the same id),
        inside this index's open transaction. Returns the new chunk ids."""
        new_ids = check_addition(documents, chunks, vectors)
        self._begin()
        present = [d for d in sorted(new_ids) if d in self.documents]
        if present:
            self.remove_documents(present)
        first = self.manifest.next_chunk_id
        ids = list(range(first, first + len(chunks)))
        with self._lock, _database_errors(self.url, "writing articles"):
            write_rows(self.conn, self.tables, documents, chunks, vectors, ids)
        self.manifest = replace(self.manifest, next_chunk_id=first + len(chunks))
        self._changed()
        return ids

    def relabel_documents(self, documents: Sequence[Document]) -> None:
        """New titles and metadata for documents indexed with the same text (chunks untouched)."""
        check_relabel(self.documents, documents)
        self._begin()
        with self._lock, _database_errors(self.url, "relabelling articles"):
            for doc in documents:
                self.conn.execute(f"UPDATE {self.tables['documents']} SET title = %s, metadata = %s, hash = %s "
                                  "WHERE doc_id = %s", (doc.title, json.dumps(dict(doc.metadata), ensure_ascii=False),
                                                        document_hash(doc), doc.doc_id))
        self._changed()

    def remove_documents(self, doc_ids: Iterable[str]) -> int:
        doc_ids = list(dict.fromkeys(doc_ids))
        unknown = [d for d in doc_ids if d not in self.documents]
        if unknown:
            raise QAError(f"unknown document id(s): {', '.join(unknown)}; see qa list")
        self._begin()
        t = self.tables
        with self._lock, _database_errors(self.url, "removing articles"):
            conn = self.conn
            removed = conn.execute(
                f"WITH gone AS (DELETE FROM {t['chunks']} WHERE doc_id = ANY(%s) RETURNING tsv, n_terms), "
                f"terms AS (SELECT lexeme, count(*) AS n FROM gone, unnest(gone.tsv) GROUP BY lexeme), "
                f"upd AS (UPDATE {t['terms']} SET df = {t['terms']}.df - terms.n FROM terms "
                f"         WHERE {t['terms']}.lexeme = terms.lexeme) "
                f"SELECT count(*), coalesce(sum(n_terms), 0) FROM gone", (doc_ids,)).fetchone()
            conn.execute(f"UPDATE {t['stats']} SET chunks = chunks - %s, terms = terms - %s WHERE id = 1",
                         (int(removed[0]), int(removed[1])))
            conn.execute(f"DELETE FROM {t['terms']} WHERE df <= 0")
            conn.execute(f"DELETE FROM {t['documents']} WHERE doc_id = ANY(%s)", (doc_ids,))
        self._changed()
        return int(removed[0])

    def _changed(self) -> None:
        self.documents.reset()
        self.chunks.reset()

    def _refresh_manifest(self) -> None:
        rows = self._execute(f"SELECT doc_id, hash FROM {self.tables['documents']}").fetchall()
        digest = hashlib.sha256()      # embeddings.store.corpus_fingerprint, from the stored hashes
        for doc_id, doc_hash in sorted((r[0], r[1]) for r in rows):
            digest.update(f"{doc_id}\0{doc_hash}\n".encode("utf-8"))
        n_chunks = self._execute(f"SELECT chunks FROM {self.tables['stats']} WHERE id = 1").fetchone()[0]
        self.manifest = replace(self.manifest, corpus_fingerprint=digest.hexdigest()[:16],
                                documents=len(rows), chunks=int(n_chunks), index_kind=INDEX_KIND)

    def commit(self) -> str:
        """Write the manifest with a new version and commit: the whole change becomes visible at once."""
        self._begin()
        self._refresh_manifest()
        with self._lock, _database_errors(self.url, "committing the change"):
            row = self.conn.execute(
                f"UPDATE {MANIFEST_TABLE} SET fields = %s, version = version + 1, updated = now() "
                f"WHERE id = 1 AND generation = %s RETURNING version",
                (json.dumps(json.loads(self.manifest.to_json())), self.generation)).fetchone()
            if row is None:
                raise QAError(f"the index in {describe_url(self.url)} was rebuilt by another writer "
                              "meanwhile; run the command again")
            self.conn.execute("COMMIT")
        self._in_transaction = False
        self.version = str(row[0])
        self._changed()
        return self.version


def write_rows(conn, tables: Mapping[str, str], documents: Sequence[Document], chunks: Sequence[Chunk],
               vectors: np.ndarray, ids: Sequence[int]) -> None:
    """Insert documents and chunks (COPY) and update the BM25 statistics, in the caller's transaction."""
    from psycopg.types.json import Jsonb

    with conn.cursor().copy(f"COPY {tables['documents']} (doc_id, title, text, metadata, hash) FROM STDIN") as copy:
        for doc in documents:
            copy.write_row((doc.doc_id, doc.title, doc.text, json.dumps(dict(doc.metadata), ensure_ascii=False),
                            document_hash(doc)))
    if not len(chunks):
        return
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n_terms = [_words_count(c.text) for c in chunks]
    with conn.cursor().copy(f'COPY {tables["chunks"]} (id, doc_id, start, "end", text, sentences, n_terms, embedding) '
                            "FROM STDIN WITH (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "text", "int4", "int4", "text", "jsonb", "int4", "vector"])
        for chunk_id, chunk, count, vector in zip(ids, chunks, n_terms, vectors):
            copy.write_row((int(chunk_id), chunk.doc_id, chunk.start, chunk.end, chunk.text,
                            Jsonb([list(s) for s in chunk.sentences]), count, vector))
    t = tables
    conn.execute(
        f"INSERT INTO {t['terms']} (lexeme, df) SELECT lexeme, count(*) FROM {t['chunks']}, unnest(tsv) "
        f"WHERE id >= %s AND id <= %s GROUP BY lexeme "
        f"ON CONFLICT (lexeme) DO UPDATE SET df = {t['terms']}.df + excluded.df", (min(ids), max(ids)))
    conn.execute(f"UPDATE {t['stats']} SET chunks = chunks + %s, terms = terms + %s WHERE id = 1",
                 (len(chunks), int(sum(n_terms))))


def create_generation(conn, generation: int, dimension: int) -> dict[str, str]:
    """The tables of a new generation (no vector/text indexes yet: they are built after the bulk load)."""
    t = _tables(generation)
    conn.execute(f"CREATE TABLE {t['documents']} (doc_id text PRIMARY KEY, title text NOT NULL, "
                 "text text NOT NULL, metadata json NOT NULL DEFAULT '{}', hash text NOT NULL)")  # json: key order kept
    conn.execute(f'CREATE TABLE {t["chunks"]} (id bigint PRIMARY KEY, doc_id text NOT NULL, start integer NOT NULL, '
                 f'"end" integer NOT NULL, text text NOT NULL, sentences jsonb NOT NULL, n_terms integer NOT NULL, '
                 f"embedding vector({int(dimension)}) NOT NULL, "
                 "tsv tsvector GENERATED ALWAYS AS (to_tsvector('german', text)) STORED)")
    conn.execute(f"CREATE TABLE {t['terms']} (lexeme text PRIMARY KEY, df integer NOT NULL)")
    conn.execute(f"CREATE TABLE {t['stats']} (id integer PRIMARY KEY CHECK (id = 1), chunks bigint NOT NULL, "
                 "terms bigint NOT NULL)")
    conn.execute(f"INSERT INTO {t['stats']} VALUES (1, 0, 0)")
    return t


def index_generation(conn, tables: Mapping[str, str]) -> None:
    """The search indexes of a loaded generation: HNSW (cosine) on the vectors, GIN on the text."""
    t = tables
    conn.execute(f"CREATE INDEX ON {t['chunks']} (doc_id)")
    conn.execute(f"CREATE INDEX ON {t['chunks']} USING hnsw (embedding vector_cosine_ops)")
    conn.execute(f"CREATE INDEX ON {t['chunks']} USING gin (tsv)")


class PgStore:
    """The index in a PostgreSQL database (``--store URL``): open, lock, build, save, version."""

    def __init__(self, url: str, *, build_memory: str = "512MB") -> None:
        """``build_memory``: maintenance_work_mem for a build's index creation (HNSW builds much
        faster while its graph fits: about 1.6 KB per 384-d chunk)."""
        if not is_database_url(url):
            raise QAError(f"{url!r} is not a PostgreSQL URL; write postgresql://user:password@host:port/database "
                          "(--store or QA_STORE)")
        self.url = url
        self.name = describe_url(url)
        self.build_memory = build_memory
        self._conn = None
        self._conn_lock = threading.Lock()
        self._held = threading.local()

    def __str__(self) -> str:
        return self.name

    # ---- connections -------------------------------------------------------------------

    def _reader(self):
        with self._conn_lock:
            if self._conn is None or self._conn.closed:
                self._conn = connect(self.url)
            return self._conn

    def _writer_conn(self):
        return getattr(self._held, "conn", None)

    # ---- the Target surface (embeddings.targets) ---------------------------------------

    def exists(self) -> bool:
        return read_manifest_row(self._reader(), self.url) is not None

    def current_version(self) -> str | None:
        try:
            row = read_manifest_row(self._reader(), self.url)
        except QAError:
            with self._conn_lock:
                self._conn = None    # reconnect next time
            raise
        return None if row is None else str(row[1])

    def clean(self) -> None:
        """Nothing to clean: an interrupted write was rolled back by the server."""

    @contextmanager
    def writer_lock(self) -> Iterator[None]:
        """One writer at a time across processes: a session advisory lock on a connection that
        this thread's writes then use (a dropped connection ends the lock and the transaction
        together). Re-entrant within a thread."""
        if self._writer_conn() is not None:
            self._held.depth += 1
            try:
                yield
            finally:
                self._held.depth -= 1
            return
        conn = connect(self.url, purpose="writer")
        try:
            with _database_errors(self.url, "taking the writer lock"):
                if not conn.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,)).fetchone()[0]:
                    log.info("another writer is changing the index in %s; waiting for it to finish", self.name)
                    conn.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK_KEY,))
            self._held.conn, self._held.depth = conn, 1
            yield
        finally:
            self._held.conn = None
            conn.close()   # ends the session: the lock and any open transaction go with it

    def load(self, *, verify: bool = True) -> PgIndex:
        """The current index (a writer gets one on its locked connection, to change it)."""
        conn = self._writer_conn()
        row = read_manifest_row(conn if conn is not None else self._reader(), self.url)
        if row is None:
            raise QAError(f"no index in {self.name} yet; build one with: qa index --store URL")
        generation, version, fields = row
        manifest = IndexManifest.from_fields(fields, directory=self.name)
        index = PgIndex(self.url, generation=generation, version=version, manifest=manifest, conn=conn)
        if verify:
            stored = index._execute(f"SELECT chunks FROM {index.tables['stats']} WHERE id = 1",
                                    what="reading the index").fetchone()
            if stored is None or int(stored[0]) != manifest.chunks:
                raise QAError(f"the index in {self.name} is damaged (the manifest says {manifest.chunks} chunks, "
                              f"the tables hold {None if stored is None else stored[0]}); rebuild it with: qa index --rebuild")
        return index

    def save(self, index) -> None:
        if not isinstance(index, PgIndex):
            raise TypeError(f"cannot save a {type(index).__name__} into {self.name}")
        index.commit()

    def from_vectors(self, *, documents: Iterable[Document], chunks: list[Chunk], vectors: np.ndarray,
                     manifest: IndexManifest, bm25: bool = True) -> PgIndex:
        """A new generation over ``chunks`` (ids 0..n-1), written in one open transaction that
        :meth:`save` commits (switching every reader to it at once); until then nobody sees it,
        and a crash or a lost connection leaves the previous index as it was."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        documents = list(documents)
        held = self._writer_conn()
        conn = held if held is not None else connect(self.url, purpose="writer")
        with _database_errors(self.url, "building the index"):
            ensure_pgvector(conn, self.url)
            conn.execute("BEGIN")
            conn.execute(f"CREATE TABLE IF NOT EXISTS {MANIFEST_TABLE} (id integer PRIMARY KEY CHECK (id = 1), "
                         "generation integer NOT NULL, version bigint NOT NULL, fields jsonb NOT NULL, "
                         "updated timestamptz NOT NULL DEFAULT now())")
            current = conn.execute(f"SELECT generation FROM {MANIFEST_TABLE} WHERE id = 1 FOR UPDATE").fetchone()
            generation = 1 if current is None else int(current[0]) + 1
            for old in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                                    "AND tablename ~ %s", (f"^{PREFIX}_(documents|chunks|terms|stats)_g[0-9]+$",)):
                # Generations older than the current one; the current one stays for readers
                # that still use it until they pick the new one up.
                if current is None or int(old[0].rsplit("_g", 1)[1]) < int(current[0]):
                    conn.execute(f"DROP TABLE IF EXISTS {old[0]}")
            tables = create_generation(conn, generation, manifest.dimension)
            write_rows(conn, tables, documents, chunks, vectors, list(range(len(chunks))))
            conn.execute("SELECT set_config('maintenance_work_mem', %s, true)", (self.build_memory,))
            index_generation(conn, tables)
            manifest = replace(manifest, retrieval_mode="hybrid", next_chunk_id=len(chunks), index_kind=INDEX_KIND,
                               extra=MappingProxyType({**dict(manifest.extra), "postgresql": {
                                   "fulltext": "german", "bm25": {"k1": BM25_K1, "b": BM25_B},
                                   "hnsw": {"m": 16, "ef_construction": 64, "ef_search": EF_SEARCH}}}))
            conn.execute(f"INSERT INTO {MANIFEST_TABLE} (id, generation, version, fields) VALUES (1, %s, "
                         f"coalesce((SELECT version FROM {MANIFEST_TABLE} WHERE id = 1), 0), %s) "
                         "ON CONFLICT (id) DO UPDATE SET generation = excluded.generation, fields = excluded.fields",
                         (generation, json.dumps(json.loads(manifest.to_json()))))
            version = conn.execute(f"SELECT version FROM {MANIFEST_TABLE} WHERE id = 1").fetchone()[0]
        index = PgIndex(self.url, generation=generation, version=version, manifest=manifest, conn=conn)
        index._in_transaction = True
        return index


__all__ = ["FullText", "INDEX_KIND", "PgIndex", "PgStore", "connect", "describe_url", "is_database_url"]
