"""Question sets in, ``EvalQuestion``s (and the dataset's own contexts as Documents) out.

Formats, detected from the content: SQuAD JSON v1.1/v2.0, JSONL question sets
(``{"id", "question", "answers": [...]}`` plus any extra fields), MLQA's HF-style JSONL
(``{"context", "question", "answers": {"answer_start": [...], "text": [...]}, "id"}``) and
the BEIR/MTEB retrieval form (a folder with corpus.jsonl, queries.jsonl, qrels/*.tsv).
Every problem in the input is a QAError naming the file and line.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterator, Mapping

from embeddings.documents import Document
from embeddings.errors import QAError

log = logging.getLogger(__name__)

FORMATS = ("squad", "jsonl", "mlqa", "qrels")


@dataclass(frozen=True, slots=True)
class EvalQuestion:
    """One question to ask. ``answers`` empty: the corpus holds no answer (abstain);
    ``None``: the data has no answer spans (retrieval-only sets such as GermanQuAD's).

    ``context``/``context_id`` are the gold paragraph and its document id where the data
    has one; ``relevant_ids`` the document ids that count as retrieval hits (qrels).
    """

    id: str
    question: str
    answers: tuple[str, ...] | None
    context: str | None = None
    context_id: str | None = None
    extras: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    relevant_ids: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        return bool(self.answers)

    @property
    def gold_doc_ids(self) -> tuple[str, ...]:
        if self.relevant_ids:
            return self.relevant_ids
        return (self.context_id,) if self.context_id is not None else ()


@dataclass(frozen=True, slots=True)
class EvalDataset:
    """A loaded question set; ``documents`` are its own contexts (empty for plain JSONL)."""

    name: str
    path: Path
    format: str
    questions: tuple[EvalQuestion, ...]
    documents: tuple[Document, ...] = ()

    @property
    def has_answer_spans(self) -> bool:
        return all(q.answers is not None for q in self.questions)


def parse_articles(spec: str) -> frozenset[int]:
    """``"40-47"``, ``"3"`` or ``"0-3,7,40-47"`` to a set of article numbers (0-based, file order)."""
    numbers: set[int] = set()
    for part in spec.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None:
            raise QAError(f"--articles {spec!r}: expected numbers and ranges such as 40-47 or 0-3,7")
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) is not None else low
        if high < low:
            raise QAError(f"--articles {spec!r}: range {low}-{high} runs backwards")
        numbers.update(range(low, high + 1))
    return frozenset(numbers)


def load_dataset(
    path: Path | str,
    *,
    articles: frozenset[int] | None = None,
    questions_from: Path | str | None = None,
    limit: int | None = None,
) -> EvalDataset:
    """Read a question set, detecting its format.

    ``articles`` keeps the questions of those SQuAD articles (the documents stay all
    paragraphs, so the corpus is the whole file). ``questions_from`` is a second SQuAD file
    whose questions are asked instead, paired by question id with this file's contexts
    and answers (e.g. English questions over German contexts).
    """
    path = Path(path)
    if not path.exists():
        raise QAError(f"{path}: no such file or folder; give a SQuAD .json, a .jsonl question set or a qrels folder")
    if path.is_dir():
        dataset = _read_qrels_folder(path)
    elif path.suffix.lower() == ".jsonl":
        dataset = _read_jsonl(path)
    else:
        dataset = _read_json(path)
    if articles is not None:
        if dataset.format != "squad":
            raise QAError(f"{path}: --articles applies to SQuAD JSON files only (this is {dataset.format})")
        dataset = _select_articles(dataset, articles)
    if questions_from is not None:
        dataset = _pair_questions(dataset, Path(questions_from), articles)
    if limit is not None:
        if limit < 1:
            raise QAError(f"--limit {limit}: give a positive number of questions")
        dataset = replace(dataset, questions=dataset.questions[:limit])
    return dataset


# ---------------------------------------------------------------------------------------
# Reading helpers

def _slug(path: Path) -> str:
    name = path.name if path.is_dir() else path.stem
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset"


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise QAError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8") from None
    except OSError as error:
        raise QAError(f"{path}: cannot read ({error.strerror})") from None
    if not text.strip():
        raise QAError(f"{path}: the file is empty; it should hold questions")
    return text


def _jsonl_objects(path: Path, text: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line; bad JSON or a non-object is a QAError."""
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as error:
            raise QAError(f"{path}:{number}: invalid JSON ({error.msg}, column {error.colno}); one JSON object per line") from None
        if not isinstance(obj, dict):
            raise QAError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
        yield number, obj


def _require_str(obj: Mapping, key: str, where: str, *, empty_ok: bool = False) -> str:
    if key not in obj:
        raise QAError(f"{where}: missing {key!r}")
    value = obj[key]
    if not isinstance(value, str):
        raise QAError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    if not empty_ok and not value.strip():
        raise QAError(f"{where}: {key!r} is empty")
    return value


def _check_unique(ids: list[tuple[str, str]]) -> None:
    seen: dict[str, str] = {}
    for qid, where in ids:
        if qid in seen:
            raise QAError(f"{where}: duplicate id {qid!r} (first at {seen[qid]}); ids must be unique")
        seen[qid] = where


# ---------------------------------------------------------------------------------------
# SQuAD JSON

def _line_of(text: str, needle: str) -> int | None:
    index = text.find(needle)
    return None if index < 0 else text.count("\n", 0, index) + 1


def _read_json(path: Path) -> EvalDataset:
    text = _read_text(path)
    try:
        root = json.loads(text)
    except json.JSONDecodeError as error:
        raise QAError(f"{path}:{error.lineno}: invalid JSON ({error.msg}, column {error.colno})") from None
    if not (isinstance(root, dict) and isinstance(root.get("data"), list)):
        raise QAError(
            f"{path}:1: unknown format: expected SQuAD JSON ({{\"data\": [...]}}); "
            "for one question per line use a .jsonl file"
        )
    return _parse_squad(path, text, root)


def _parse_squad(path: Path, text: str, root: dict) -> EvalDataset:
    prefix = _slug(path)
    questions: list[EvalQuestion] = []
    documents: list[Document] = []
    seen_ids: list[tuple[str, str]] = []

    def where(location: str, qid: object = None) -> str:
        line = _line_of(text, json.dumps(qid, ensure_ascii=False)) if isinstance(qid, str) else None
        if line is None and isinstance(qid, str):
            line = _line_of(text, qid)
        return f"{path}:{line if line is not None else 1}: {location}"

    for a, article in enumerate(root["data"]):
        loc = f"data[{a}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise QAError(f"{where(loc)}: expected an object with a 'paragraphs' list")
        title = article.get("title", f"article {a}")
        if not isinstance(title, str):
            raise QAError(f"{where(loc)}: 'title' must be a string")
        for p, paragraph in enumerate(article["paragraphs"]):
            ploc = f"{loc}.paragraphs[{p}]"
            if not isinstance(paragraph, dict):
                raise QAError(f"{where(ploc)}: expected an object with 'context' and 'qas'")
            context = _require_str(paragraph, "context", where(ploc))
            qas = paragraph.get("qas", [])
            if not isinstance(qas, list):
                raise QAError(f"{where(ploc)}: 'qas' must be a list")
            doc_id = f"{prefix}-a{a}-p{p}"
            documents.append(Document(doc_id=doc_id, title=title, text=context, metadata=MappingProxyType(
                {"source": path.name, "article": str(a), "paragraph": str(p)})))
            for q, qa in enumerate(qas):
                qloc = f"{ploc}.qas[{q}]"
                qid = qa.get("id") if isinstance(qa, dict) else None
                if not isinstance(qa, dict):
                    raise QAError(f"{where(qloc)}: expected an object with 'id', 'question', 'answers'")
                qwhere = where(f"{qloc} (id {qid!r})" if qid is not None else qloc, qid)
                qid = _require_str(qa, "id", qwhere)
                question = _require_str(qa, "question", qwhere)
                impossible = qa.get("is_impossible", False)
                if not isinstance(impossible, bool):
                    raise QAError(f"{qwhere}: 'is_impossible' must be true or false")
                raw_answers = qa.get("answers", [])
                if not isinstance(raw_answers, list):
                    raise QAError(f"{qwhere}: 'answers' must be a list")
                answers: list[str] = []
                for n, ans in enumerate(raw_answers):
                    if not isinstance(ans, dict) or not isinstance(ans.get("text"), str):
                        raise QAError(f"{qwhere}: answers[{n}] must be an object with a 'text' string")
                    if ans["text"] not in answers:
                        answers.append(ans["text"])
                if impossible:
                    answers = []
                elif not answers:
                    raise QAError(f"{qwhere}: no answers and not 'is_impossible'; add an answer or mark it impossible")
                seen_ids.append((qid, qwhere))
                questions.append(EvalQuestion(
                    id=qid, question=question, answers=tuple(answers), context=context,
                    context_id=doc_id, extras=MappingProxyType({"article": title, "article_index": a}),
                ))
    if not questions:
        raise QAError(f"{path}:1: no questions in this SQuAD file")
    _check_unique(seen_ids)
    return EvalDataset(name=prefix, path=path, format="squad", questions=tuple(questions), documents=tuple(documents))


def _select_articles(dataset: EvalDataset, articles: frozenset[int]) -> EvalDataset:
    kept = tuple(q for q in dataset.questions if q.extras.get("article_index") in articles)
    if not kept:
        count = len({d.metadata.get("article") for d in dataset.documents})
        raise QAError(f"{dataset.path}: --articles selects no questions; the file has articles 0-{count - 1}")
    return replace(dataset, questions=kept)


def _pair_questions(dataset: EvalDataset, other: Path, articles: frozenset[int] | None) -> EvalDataset:
    """Ask ``other``'s questions over ``dataset``'s contexts and answers, paired by id."""
    if dataset.format != "squad":
        raise QAError(f"{dataset.path}: --questions-from pairs SQuAD JSON files only (this is {dataset.format})")
    asked = load_dataset(other, articles=articles)
    if asked.format != "squad":
        raise QAError(f"{other}: --questions-from must be a SQuAD JSON file (this is {asked.format})")
    by_id = {q.id: q for q in dataset.questions}
    paired = tuple(
        replace(by_id[q.id], question=q.question,
                extras=MappingProxyType({**by_id[q.id].extras, "questions_from": other.name}))
        for q in asked.questions if q.id in by_id
    )
    missing = len(asked.questions) - len(paired)
    if missing:
        log.warning("%d question(s) of %s have no id in %s and are skipped", missing, other, dataset.path)
    if not paired:
        raise QAError(f"{other}: no question id matches one in {dataset.path}; pair files of the same dataset")
    return replace(dataset, name=f"{dataset.name}+q-{_slug(other)}", questions=paired)


# ---------------------------------------------------------------------------------------
# JSONL: our question sets, or MLQA's HF-style rows

def _read_jsonl(path: Path) -> EvalDataset:
    text = _read_text(path)
    rows = list(_jsonl_objects(path, text))
    number, first = rows[0]
    if isinstance(first.get("answers"), dict) and "context" in first:
        return _parse_mlqa(path, rows)
    if {"question", "answers", "id"} & first.keys():
        return _parse_question_lines(path, rows)
    raise QAError(
        f"{path}:{number}: unknown format: expected {{\"id\", \"question\", \"answers\": [...]}} per line "
        "(or MLQA rows with 'context'); a GermanQuAD retrieval set is given as its folder"
    )


def _parse_question_lines(path: Path, rows: list[tuple[int, dict]]) -> EvalDataset:
    questions: list[EvalQuestion] = []
    ids: list[tuple[str, str]] = []
    for number, obj in rows:
        where = f"{path}:{number}"
        qid = _require_str(obj, "id", where)
        question = _require_str(obj, "question", where)
        if "answers" not in obj:
            raise QAError(f"{where}: missing 'answers' (a list of acceptable strings; [] when the corpus has no answer)")
        answers = obj["answers"]
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise QAError(f"{where}: 'answers' must be a list of strings, got {json.dumps(answers, ensure_ascii=False)[:60]}")
        if any(not a.strip() for a in answers):
            raise QAError(f"{where}: 'answers' holds an empty string; use [] for a question without answer")
        context = obj.get("context")
        if context is not None and not isinstance(context, str):
            raise QAError(f"{where}: 'context' must be a string")
        context_id = obj.get("context_id", obj.get("doc_id"))
        if context_id is not None and not isinstance(context_id, str):
            raise QAError(f"{where}: 'context_id' must be a string")
        extras = {k: v for k, v in obj.items() if k not in {"id", "question", "answers", "context", "context_id"}}
        ids.append((qid, where))
        questions.append(EvalQuestion(
            id=qid, question=question, answers=tuple(dict.fromkeys(answers)), context=context,
            context_id=context_id, extras=MappingProxyType(extras),
        ))
    _check_unique(ids)
    return EvalDataset(name=_slug(path), path=path, format="jsonl", questions=tuple(questions))


def _parse_mlqa(path: Path, rows: list[tuple[int, dict]]) -> EvalDataset:
    prefix = _slug(path)
    doc_ids: dict[str, str] = {}
    documents: list[Document] = []
    questions: list[EvalQuestion] = []
    ids: list[tuple[str, str]] = []
    for number, obj in rows:
        where = f"{path}:{number}"
        qid = _require_str(obj, "id", where)
        question = _require_str(obj, "question", where)
        context = _require_str(obj, "context", where)
        answers = obj.get("answers")
        texts = answers.get("text") if isinstance(answers, dict) else None
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise QAError(f"{where}: 'answers' must be {{\"answer_start\": [...], \"text\": [strings]}} in MLQA rows")
        if context not in doc_ids:
            doc_ids[context] = f"{prefix}-p{len(documents)}"
            documents.append(Document(doc_id=doc_ids[context], title=f"paragraph {len(documents)}", text=context,
                                      metadata=MappingProxyType({"source": path.name})))
        extras = {k: v for k, v in obj.items() if k not in {"id", "question", "answers", "context"}}
        ids.append((qid, where))
        questions.append(EvalQuestion(
            id=qid, question=question, answers=tuple(dict.fromkeys(texts)), context=context,
            context_id=doc_ids[context], extras=MappingProxyType(extras),
        ))
    _check_unique(ids)
    return EvalDataset(name=prefix, path=path, format="mlqa", questions=tuple(questions), documents=tuple(documents))


# ---------------------------------------------------------------------------------------
# BEIR / MTEB retrieval form (GermanQuAD): passage-level relevance, no answer spans

def _read_qrels_folder(folder: Path) -> EvalDataset:
    corpus_path, queries_path = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels_dir = folder / "qrels"
    tsvs = sorted(qrels_dir.glob("*.tsv")) if qrels_dir.is_dir() else []
    qrels_path = qrels_dir / "test.tsv" if (qrels_dir / "test.tsv").exists() else (tsvs[0] if len(tsvs) == 1 else None)
    if not corpus_path.exists() or not queries_path.exists() or qrels_path is None:
        raise QAError(
            f"{folder}: unknown format: a folder must hold corpus.jsonl, queries.jsonl and qrels/test.tsv "
            "(the BEIR/MTEB retrieval form)"
        )
    documents: dict[str, Document] = {}
    for number, obj in _jsonl_objects(corpus_path, _read_text(corpus_path)):
        where = f"{corpus_path}:{number}"
        doc_id = _require_str(obj, "_id", where)
        title = obj.get("title", "")
        if not isinstance(title, str):
            raise QAError(f"{where}: 'title' must be a string")
        documents[doc_id] = Document(doc_id=doc_id, title=title, text=_require_str(obj, "text", where),
                                     metadata=MappingProxyType({"source": folder.name}))
    queries: dict[str, str] = {}
    for number, obj in _jsonl_objects(queries_path, _read_text(queries_path)):
        where = f"{queries_path}:{number}"
        queries[_require_str(obj, "_id", where)] = _require_str(obj, "text", where)
    relevant: dict[str, list[str]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter="\t"), start=1):
            if not row or (number == 1 and row[0] == "query-id"):
                continue
            where = f"{qrels_path}:{number}"
            if len(row) != 3:
                raise QAError(f"{where}: expected 3 tab-separated columns (query-id, corpus-id, score), got {len(row)}")
            try:
                score = float(row[2])
            except ValueError:
                raise QAError(f"{where}: score {row[2]!r} is not a number") from None
            if row[1] not in documents:
                raise QAError(f"{where}: corpus-id {row[1]!r} is not in {corpus_path.name}")
            if score > 0:
                relevant.setdefault(row[0], []).append(row[1])
    questions = []
    for qid, text in queries.items():
        if qid not in relevant:
            continue
        ids = tuple(relevant[qid])
        questions.append(EvalQuestion(id=qid, question=text, answers=None, context=documents[ids[0]].text,
                                      context_id=ids[0], relevant_ids=ids))
    skipped = len(queries) - len(questions)
    if skipped:
        log.warning("%d quer(ies) in %s have no relevant passage in %s and are skipped", skipped, queries_path, qrels_path)
    if not questions:
        raise QAError(f"{qrels_path}: no query has a relevant passage")
    return EvalDataset(name=_slug(folder), path=folder, format="qrels", questions=tuple(questions),
                       documents=tuple(documents.values()))
