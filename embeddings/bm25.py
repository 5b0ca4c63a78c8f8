"""German BM25 over chunk texts: lowercase word tokens, stop words, Snowball stemming, compounds.

BM25 complements the dense retriever on exact names, numbers and rare words. German glues
nouns into compounds ("Sicherheitsgarantien"), so a question may use a compound the text
splits ("Garantien für die Sicherheit") or the other way round; ``split_compounds`` adds the
parts of a compound as extra tokens (see ``CompoundSplitter``).

Rows carry caller-chosen integer ids (the chunk ids of the index). ``add``/``remove`` only
touch the stored word lists; BM25's statistics (IDF, average length) and the compound
vocabulary are global to the corpus, and bm25s has no in-place update, so the scoring matrix is
rebuilt from the stored word lists on the next search after a change (once per batch of
changes, not per row). That rebuild re-reads no text and re-embeds nothing: 2.4 s for 5k
chunks (2.7 MB of news text) with compound splitting, 0.7 s without, on the shared 2 cores;
and it makes an index after any series of adds and removes score exactly like a fresh build
over the same rows.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Collection, Iterable, Sequence

import numpy as np

from embeddings.atomic import atomic_directory
from embeddings.errors import QAError

FORMAT_VERSION = 1
SETTINGS_FILE = "bm25.json"
ROWS_FILE = "rows.jsonl"

# Letters and digits; "_" is \w but never part of a word here. Hyphenated words
# ("Nato-Gipfel") become their parts, which is what a reader searching for "Gipfel" wants.
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

# A small list of German function words (articles, pronouns, auxiliaries, conjunctions,
# prepositions, question words). Kept short on purpose: negations ("nicht", "kein") and
# numbers stay, because they change what a sentence says.
GERMAN_STOP_WORDS = frozenset("""
der die das des dem den ein eine einer eines einem einen
und oder aber doch sondern denn sowie als wie wenn ob dass daß weil da so auch noch nur schon
ich du er sie es wir ihr mich dich sich uns euch mir dir ihm ihn ihnen ihre ihrer ihres ihrem
ihren sein seine seiner seines seinem seinen mein meine dein deine unser unsere euer eure
dies diese dieser dieses diesem diesen jene jener jenes welche welcher welches welchem welchen
man was wer wen wem wessen wo wann warum wieso weshalb wohin woher womit wodurch worauf
ist sind war waren bin bist seid sei wäre wären wird werden wurde wurden worden wirst
hat haben hatte hatten habe hast gehabt kann können konnte konnten muss müssen soll sollen
sollte sollten will wollen darf dürfen mag möchte
in im ins an am ans auf aus bei beim mit nach von vom vor zu zum zur über unter um durch für
gegen ohne bis seit zwischen hinter neben
hier dort dann nun sehr mehr etwa bereits dabei dazu damit dafür darauf daran davon
""".split())

# Heads of compounds may carry a linking element ("Sicherheit|s|garantien", "Bund|es|wehr")
# that Snowball does not always strip; a head is tried as is and without these endings.
# An elided "-e" ("Schul|buch" from "Schule") needs nothing: both stem to "schul".
_LINKING_ENDINGS = ("", "s", "es")


@dataclass(frozen=True, slots=True)
class BM25Settings:
    """How text becomes tokens and how BM25 scores them (saved with the index)."""

    stemmer: str = "german"
    split_compounds: bool = True
    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"
    min_part: int = 4          # shortest compound part, in characters
    min_compound: int = 8      # shortest word that is tried as a compound


def words_of(text: str) -> list[str]:
    """Lowercased letter/digit runs without stop words: what is stored per row."""
    return [w for w in _WORD.findall(text.lower()) if w not in GERMAN_STOP_WORDS]


class CompoundSplitter:
    """Frequency-based splitting against the corpus' own vocabulary (Koehn & Knight 2003).

    A word of at least ``min_compound`` characters is cut into a head and a tail of at least
    ``min_part`` characters each (the tail recursively again, up to 4 parts). Parts are looked
    up by their Snowball stem among the corpus' stems, so "garantien" matches a corpus that
    only has "Garantie"; a head may also drop a Fugen-s/-es ("Sicherheits|garantien" ->
    "sicherheit" + "garantien"). Among the cuts whose parts all
    occur in the corpus, the one with the highest geometric mean of part frequencies wins,
    and only if that mean beats the frequency of the whole word: a common word ("Mitglied")
    is not cut into rarer pieces. Frequencies count stems. The whole word is always kept too.
    """

    def __init__(self, stem_counts: Counter, stem, *, min_part: int = 4, min_compound: int = 8):
        self._counts = stem_counts
        self._stem = stem
        self._min_part = min_part
        self._min_compound = min_compound
        self._memo: dict[tuple[str, int], tuple[tuple[str, ...], float]] = {}

    def split(self, word: str) -> tuple[str, ...]:
        """The parts of ``word`` (stems), or ``()`` when it is not a known compound."""
        return self._best_split(word, 0)[0]

    def _best_split(self, word: str, depth: int) -> tuple[tuple[str, ...], float]:
        key = (word, depth)
        found = self._memo.get(key)
        if found is None:
            found = self._search(word, depth)
            self._memo[key] = found
        return found

    def _search(self, word: str, depth: int) -> tuple[tuple[str, ...], float]:
        best: tuple[str, ...] = ()
        best_score = float(self._counts.get(self._stem(word), 0))
        if len(word) < self._min_compound or depth > 2:
            return best, best_score
        for cut in range(self._min_part, len(word) - self._min_part + 1):
            head_count, head_stem = self._head(word[:cut])
            if not head_count:
                continue
            tail_parts, tail_score = self._tail(word[cut:], depth)
            if not tail_parts:
                continue
            n = 1 + len(tail_parts)
            score = math.exp((math.log(head_count) + math.log(tail_score) * len(tail_parts)) / n)
            if score > best_score:
                best, best_score = (head_stem, *tail_parts), score
        return best, best_score

    def _head(self, head: str) -> tuple[int, str]:
        """(count, stem) of the most frequent corpus stem this head can stand for."""
        best = (0, "")
        for ending in _LINKING_ENDINGS:
            if not head.endswith(ending):
                continue
            candidate = head[: len(head) - len(ending)]
            if len(candidate) >= self._min_part:
                stem = self._stem(candidate)
                best = max(best, (self._counts.get(stem, 0), stem))
        return best

    def _tail(self, tail: str, depth: int) -> tuple[tuple[str, ...], float]:
        """The tail as one known word, or split further; score = geometric mean of its parts."""
        stem = self._stem(tail)
        count = self._counts.get(stem, 0)
        parts, score = self._best_split(tail, depth + 1)
        if parts and score > count:
            return parts, score
        return ((stem,), float(count)) if count else ((), 0.0)


class BM25Index:
    """BM25 over rows of text identified by integer ids; search returns ``(id, score)``."""

    def __init__(self, settings: BM25Settings | None = None) -> None:
        self.settings = BM25Settings() if settings is None else settings
        try:
            import Stemmer
        except ImportError:  # pragma: no cover - PyStemmer is a requirement
            raise QAError("BM25 needs PyStemmer; run `pip install -r requirements.txt`") from None
        try:
            self._stemmer = Stemmer.Stemmer(self.settings.stemmer)
        except KeyError:
            raise QAError(
                f"unknown stemmer language {self.settings.stemmer!r}; use one of "
                f"{', '.join(Stemmer.algorithms())}"
            ) from None
        self._stem_cache: dict[str, str] = {}
        self._rows: dict[int, tuple[str, ...]] = {}
        self._model = None          # bm25s.BM25, rebuilt lazily after a change
        self._row_ids = np.zeros(0, dtype=np.int64)
        self._splitter: CompoundSplitter | None = None
        self._word_tokens: dict[str, tuple[str, ...]] = {}

    # ---- building and updating -------------------------------------------------------

    @classmethod
    def build(cls, texts: Sequence[str], *, ids: Sequence[int] | None = None,
              stemmer: str = "german", split_compounds: bool = True, **params) -> "BM25Index":
        """An index over ``texts``; row ids are ``ids`` or 0..n-1."""
        index = cls(BM25Settings(stemmer=stemmer, split_compounds=split_compounds, **params))
        index.add(texts, ids=range(len(texts)) if ids is None else ids)
        index._ensure_model()
        return index

    def add(self, texts: Sequence[str], *, ids: Iterable[int]) -> None:
        """Add rows (or replace rows whose id is already present)."""
        ids = [int(i) for i in ids]
        if len(ids) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(ids)} ids")
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate ids in one add")
        for row_id, text in zip(ids, texts):
            self._rows.pop(row_id, None)  # a replaced row moves to the end, like a fresh add
            self._rows[row_id] = tuple(words_of(text))
        self._model = None

    def remove(self, ids: Iterable[int]) -> int:
        """Remove rows by id; unknown ids are ignored. Returns how many were removed."""
        removed = sum(self._rows.pop(int(i), None) is not None for i in ids)
        if removed:
            self._model = None
        return removed

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, row_id: object) -> bool:
        return row_id in self._rows

    @property
    def ids(self) -> list[int]:
        return list(self._rows)

    # ---- analysis ----------------------------------------------------------------------

    def _stem(self, word: str) -> str:
        stem = self._stem_cache.get(word)
        if stem is None:
            stem = self._stemmer.stemWord(word)
            self._stem_cache[word] = stem
        return stem

    def _analyze_word(self, word: str) -> tuple[str, ...]:
        tokens = self._word_tokens.get(word)
        if tokens is None:
            tokens = (self._stem(word),)
            if self._splitter is not None:
                tokens += self._splitter.split(word)
            self._word_tokens[word] = tokens
        return tokens

    def _tokens(self, words: Iterable[str]) -> list[str]:
        return [token for word in words for token in self._analyze_word(word)]

    def analyze(self, text: str) -> list[str]:
        """The tokens a query ``text`` becomes (for inspection and tests)."""
        self._ensure_model()
        return self._tokens(words_of(text))

    def _ensure_model(self) -> None:
        if self._model is not None:
            return
        import bm25s

        # bm25s sets its own logger to DEBUG when first imported, which printed "Building index
        # from tokens" into every command's output; warnings are what we want from it.
        logging.getLogger("bm25s").setLevel(max(logging.getLogger("bm25s").level, logging.WARNING))
        rows = list(self._rows.values())
        self._splitter = None
        self._word_tokens = {}  # splits depend on the whole corpus: recomputed per rebuild
        if self.settings.split_compounds:
            surface: Counter = Counter()
            for words in rows:
                surface.update(words)
            counts: Counter = Counter()
            for word, count in surface.items():
                counts[self._stem(word)] += count
            self._splitter = CompoundSplitter(
                counts, self._stem, min_part=self.settings.min_part,
                min_compound=self.settings.min_compound,
            )
        model = bm25s.BM25(k1=self.settings.k1, b=self.settings.b, method=self.settings.method)
        # An empty row still needs one token for bm25s; "" is its reserved empty token.
        corpus = [self._tokens(words) or [""] for words in rows] or [[""]]
        model.index(corpus, show_progress=False)
        self._model = model
        self._row_ids = np.fromiter(self._rows.keys(), dtype=np.int64, count=len(self._rows))

    # ---- search ------------------------------------------------------------------------

    def search(self, query: str, *, k: int = 10,
               allowed_ids: Collection[int] | None = None) -> list[tuple[int, float]]:
        """The ``k`` best rows for ``query`` as ``(id, score)``, best first; rows that share
        no token with the query are left out. ``allowed_ids`` restricts the result (filters)."""
        if k <= 0 or not self._rows:
            return []
        self._ensure_model()
        token_ids = self._model.get_tokens_ids([t for t in self._tokens(words_of(query)) if t])
        if not token_ids:
            return []
        scores = self._model.get_scores_from_ids(token_ids)
        if allowed_ids is not None:
            mask = np.isin(self._row_ids, np.fromiter(allowed_ids, dtype=np.int64))
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            top = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[top]
        # Ties break by row id so results do not depend on insertion order.
        order = np.lexsort((self._row_ids[candidates], -scores[candidates]))
        return [(int(self._row_ids[i]), float(scores[i])) for i in candidates[order]]

    # ---- persistence -------------------------------------------------------------------

    def save(self, directory: str | os.PathLike) -> None:
        """Write settings and the stored word lists into ``directory`` atomically.

        The directory is written next to its final place and renamed over it, so a crash
        leaves either the old index or the new one. The scoring matrix is not stored: it is
        rebuilt from the word lists on load (cheap, and it can never disagree with them).
        """
        with atomic_directory(directory) as tmp:
            self.write(tmp)

    def write(self, directory: str | os.PathLike) -> None:
        """Write ``SETTINGS_FILE`` and ``ROWS_FILE`` into ``directory`` (created if missing; not
        atomic: for a caller that publishes the folder itself, as ``ChunkIndex.save``)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"format_version": FORMAT_VERSION, "rows": len(self._rows), "settings": asdict(self.settings)}
        (directory / SETTINGS_FILE).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        with open(directory / ROWS_FILE, "w", encoding="utf-8") as handle:
            for row_id, words in self._rows.items():
                handle.write(json.dumps([row_id, " ".join(words)], ensure_ascii=False))
                handle.write("\n")

    @classmethod
    def load(cls, directory: str | os.PathLike) -> "BM25Index":
        """Read an index written by ``save``; a missing, foreign or damaged folder is a QAError."""
        directory = Path(directory)
        try:
            return cls.read(directory)
        except FileNotFoundError:
            raise QAError(f"no BM25 index at {directory} ({SETTINGS_FILE} or {ROWS_FILE} missing); "
                          "rebuild the index with `qa index --rebuild`") from None
        except (OSError, ValueError) as error:
            raise QAError(f"{error}; rebuild the index with `qa index --rebuild`") from None

    @classmethod
    def read(cls, directory: str | os.PathLike) -> "BM25Index":
        """``load`` for a caller that reports damage itself (``ChunkIndex.load``): a damaged or
        foreign file is a ValueError naming the file (and line), a missing one an OSError."""
        directory = Path(directory)
        meta_path = directory / SETTINGS_FILE
        try:
            meta = json.loads(meta_path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError:
            raise ValueError(f"{meta_path}: not UTF-8 text") from None
        except json.JSONDecodeError as error:
            raise ValueError(f"{meta_path}:{error.lineno}: not valid JSON ({error.msg})") from None
        if not isinstance(meta, dict) or meta.get("format_version") != FORMAT_VERSION:
            version = meta.get("format_version") if isinstance(meta, dict) else None
            raise ValueError(f"{meta_path}: BM25 format {version!r}, expected {FORMAT_VERSION}")
        try:
            index = cls(BM25Settings(**meta["settings"]))
        except (KeyError, TypeError) as error:
            raise ValueError(f"{meta_path}: bad settings ({error})") from None
        with open(directory / ROWS_FILE, "rb") as handle:
            for line_no, line in enumerate(handle, start=1):
                try:
                    row_id, joined = json.loads(line.decode("utf-8"))
                    index._rows[int(row_id)] = tuple(joined.split())
                except (ValueError, TypeError, AttributeError):
                    raise ValueError(f"{directory / ROWS_FILE}:{line_no}: broken row") from None
        if len(index._rows) != meta.get("rows"):
            raise ValueError(f"{directory}: {len(index._rows)} rows stored but the header says "
                             f"{meta.get('rows')}")
        return index
