"""Nothing lost, nothing blocked on the saved index (issue 15): damage is found and named in
one line, ``qa index`` repairs it, and a writer killed at any step leaves a complete index."""
from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from embeddings.atomic import PAUSE_ENV, atomic_directory, recover_directory
from embeddings.documents import Document
from embeddings.errors import QAError
from embeddings.index_folder import GRACE_SECONDS, MANIFEST, TEMP_PREFIX, clean_index_dir, current_version
from embeddings.indexing import build_index
from embeddings.store import ChunkIndex
from qa.commands.main import main
from tests.fakes import FakeEmbedder, fake_loader

REPO = Path(__file__).resolve().parent.parent
ARTICLES = {
    "genf.txt": "Gespräche in Genf\n\nIn Genf sprechen die USA mit Russland über Sicherheit. Die Delegation "
                "leitet der Sondergesandte Witkoff.",
    "nato.txt": "Nato-Gipfel in Vilnius\n\nDer Gipfel berät über Waffenlieferungen an die Ukraine. Kiew hofft "
                "auf eine klare Beitrittsperspektive.",
    "donbass.txt": "Krieg im Donbass\n\nSeit 2014 sind im Donbass mehr als 13 000 Menschen getötet worden.",
    "sanktionen.txt": "Neue Sanktionen\n\nDie EU beschließt ein weiteres Sanktionspaket gegen Russland. "
                      "Betroffen sind Banken und die Schattenflotte.",
}


def documents(names=tuple(ARTICLES)) -> list[Document]:
    return [Document(doc_id=n, title=ARTICLES[n].split("\n", 1)[0], text=ARTICLES[n]) for n in names]


def index_of(names=tuple(ARTICLES), kind="flat") -> ChunkIndex:
    return build_index(documents(names), FakeEmbedder(max_tokens=24), max_tokens=24, overlap=1,
                       show_progress=False, index_kind=kind)


def save_flat(index: ChunkIndex, directory: Path, *, manifest: dict | None = None) -> None:
    """Save ``index`` in the layout before versions (format 2, "flat"): its files and
    manifest.json side by side in ``directory``, as indexes saved until now are on disk."""
    directory.mkdir(parents=True)
    index._write(directory)
    data = json.loads(index.manifest.to_json()) if manifest is None else manifest
    (directory / MANIFEST).write_text(json.dumps(data), encoding="utf-8")


def versions(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("v-"))


def hidden(directory: Path) -> list[str]:
    """Temp leftovers: everything hidden but the writer lock."""
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".") and p.name != ".writer.lock")


# ---- the layout and the version API -----------------------------------------------------------

def test_a_save_writes_a_version_and_switches_the_manifest_to_it(tmp_path):
    idx = tmp_path / "idx"
    assert current_version(idx) is None
    index = index_of(("genf.txt", "nato.txt"))
    assert index.version is None
    first = index.save(idx)
    assert first.startswith("v-") and index.version == first == current_version(idx)
    data = json.loads((idx / MANIFEST).read_text(encoding="utf-8"))
    assert data["version"] == first and data["previous"] is None and data["documents"] == 2
    assert set(data["files"]) == {"vectors.faiss", "tombstones.json", "chunks.jsonl", "documents.jsonl",
                                  "bm25/bm25.json", "bm25/rows.jsonl"}
    record = data["files"]["documents.jsonl"]
    assert record["bytes"] == (idx / first / "documents.jsonl").stat().st_size and len(record["sha256"]) == 64
    assert sorted(p.name for p in idx.iterdir()) == sorted([MANIFEST, first, ".writer.lock"])

    loaded = ChunkIndex.load(idx)
    assert loaded.version == first and sorted(loaded.documents) == ["genf.txt", "nato.txt"]
    loaded.remove_documents(["nato.txt"])
    second = loaded.save(idx)
    assert second != first and current_version(idx) == second
    assert versions(idx) == sorted([first, second])  # the replaced one stays for readers still loading it
    third = loaded.save(idx)
    assert versions(idx) == sorted([second, third])  # older ones go with the next save
    assert json.loads((idx / MANIFEST).read_text(encoding="utf-8"))["previous"] == second
    assert ChunkIndex.load(idx).version == third and hidden(idx) == []


def test_the_replaced_version_is_removed_on_start_once_the_grace_is_over(tmp_path):
    idx = tmp_path / "idx"
    index = index_of()
    first = index.save(idx)
    second = index.save(idx)
    ChunkIndex.load(idx)
    assert versions(idx) == sorted([first, second])
    old = time.time() - GRACE_SECONDS - 1
    os.utime(idx / MANIFEST, (old, old))
    assert clean_index_dir(idx) == [first]
    assert versions(idx) == [second] and ChunkIndex.load(idx).version == second


def test_an_index_saved_before_versions_loads_and_the_next_save_migrates_it(tmp_path):
    idx = tmp_path / "idx"
    save_flat(index_of(("genf.txt", "nato.txt", "donbass.txt")), idx)
    token = current_version(idx)
    assert token.startswith("flat-")
    loaded = ChunkIndex.load(idx)
    assert loaded.version == token and len(loaded.documents) == 3
    version = loaded.save(idx)
    assert sorted(p.name for p in idx.iterdir()) == sorted([MANIFEST, version, ".writer.lock"])
    assert ChunkIndex.load(idx).version == version == current_version(idx)


# ---- damage: one line, and qa index repairs it ----------------------------------------------

def _current(idx: Path) -> Path:
    return idx / current_version(idx)


def _drop_line(path: Path, line: int = 1) -> None:
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:line] + lines[line + 1:]))


def _edit_manifest(idx: Path, change) -> None:
    data = json.loads((idx / MANIFEST).read_text(encoding="utf-8"))
    change(data)
    (idx / MANIFEST).write_text(json.dumps(data), encoding="utf-8")


RANDOM_BYTES = random.Random(15).randbytes(700)
DAMAGE = {
    # what is done to a saved index of the 4 articles: the words the one-line message must name
    "a document line removed": (lambda idx: _drop_line(_current(idx) / "documents.jsonl"),
                                "documents.jsonl"),
    "a chunk line removed": (lambda idx: _drop_line(_current(idx) / "chunks.jsonl", 0), "chunks.jsonl"),
    "manifest of random bytes": (lambda idx: (idx / MANIFEST).write_bytes(RANDOM_BYTES), "manifest.json"),
    "manifest cut short": (lambda idx: (idx / MANIFEST).write_bytes((idx / MANIFEST).read_bytes()[:200]),
                           "manifest.json"),
    "manifest counts a document more": (lambda idx: _edit_manifest(idx, lambda d: d.update(documents=5)),
                                        "the manifest says 5"),
    "manifest field of the wrong type": (lambda idx: _edit_manifest(idx, lambda d: d.update(next_chunk_id="x")),
                                         "next_chunk_id"),
    "manifest names another folder": (lambda idx: _edit_manifest(idx, lambda d: d.update(version="../x")),
                                      "no valid version"),
    "manifest lists no chunks": (lambda idx: _edit_manifest(idx, lambda d: d["files"].pop("chunks.jsonl")),
                                 "does not list chunks.jsonl"),
    "vectors of random bytes, same size": (
        lambda idx: (_current(idx) / "vectors.faiss").write_bytes(
            random.Random(1).randbytes((_current(idx) / "vectors.faiss").stat().st_size)),
        "vectors.faiss does not match its checksum"),
    "vectors cut short": (lambda idx: (_current(idx) / "vectors.faiss").write_bytes(b"IxM2"), "vectors.faiss"),
    "BM25 rows missing": (lambda idx: (_current(idx) / "bm25" / "rows.jsonl").unlink(), "bm25/rows.jsonl is missing"),
    "tombstones of random bytes": (lambda idx: (_current(idx) / "tombstones.json").write_bytes(RANDOM_BYTES[:50]),
                                   "tombstones.json"),
    "the version folder gone": (lambda idx: shutil.rmtree(_current(idx)), "is missing"),
}
FLAT_DAMAGE = {
    # the same kinds on an index saved before versions (no checksums: the counts and parsing catch them)
    "flat: a document line removed": (lambda idx: _drop_line(idx / "documents.jsonl"),
                                      "documents.jsonl holds 3 documents, the manifest says 4"),
    "flat: manifest of random bytes": (lambda idx: (idx / MANIFEST).write_bytes(RANDOM_BYTES), "manifest.json"),
    "flat: chunks of random bytes": (lambda idx: (idx / "chunks.jsonl").write_bytes(RANDOM_BYTES),
                                     "chunks.jsonl:1"),
    "flat: vectors of random bytes": (lambda idx: (idx / "vectors.faiss").write_bytes(RANDOM_BYTES),
                                      "vectors.faiss cannot be read"),
    "flat: a BM25 row removed": (lambda idx: _drop_line(idx / "bm25" / "rows.jsonl"), "bm25"),
}


@pytest.fixture()
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def qa(*argv: str) -> int:
    return main(["-q", *argv], load_system=fake_loader())


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("kind", [*DAMAGE, *FLAT_DAMAGE])
def test_damage_is_one_line_on_every_command_and_qa_index_repairs_it(kind, corpus, tmp_path, capsys):
    idx = tmp_path / "idx"
    opts = ["--corpus", str(corpus), "--index-dir", str(idx)]
    damage, words = {**DAMAGE, **FLAT_DAMAGE}[kind]
    if kind.startswith("flat:"):
        save_flat(index_of(), idx)
    else:
        assert qa("index", str(corpus), "--index-dir", str(idx)) == 0
    capsys.readouterr()
    damage(idx)

    for argv in (["list"], ["search", "Wo sprechen die USA mit Russland?", "--no-rebuild"]):
        assert qa(*argv, *opts) == 2, argv
        line = one_error_line(capsys)
        assert line.startswith(f"qa {argv[0]}: error: the index in {idx} is damaged ("), line
        assert words in line, (argv, line)
        assert line.endswith("; rebuild it with: qa index"), line
    assert qa("index", str(corpus), "--index-dir", str(idx)) == 0
    assert "rebuilt" in capsys.readouterr().out
    assert qa("list", "--json", *opts) == 0
    assert sorted(r["doc_id"] for r in json.loads(capsys.readouterr().out)["documents"]) == sorted(ARTICLES)
    assert ChunkIndex.load(idx).version == current_version(idx) and hidden(idx) == []


@pytest.mark.parametrize("kind", ["a document line removed", "manifest of random bytes", "vectors cut short"])
def test_search_and_ask_repair_a_damaged_index_themselves(kind, corpus, tmp_path, capsys):
    """Commands that may rebuild (qa search, qa ask) rebuild a damaged index and say why."""
    idx = tmp_path / "idx"
    opts = ["--corpus", str(corpus), "--index-dir", str(idx)]
    for argv in (["search", "Wo sprechen die USA mit Russland?", "--json"],
                 ["ask", "Wo sprechen die USA mit Russland?", "--json"]):
        assert qa("index", str(corpus), "--index-dir", str(idx)) == 0
        capsys.readouterr()
        DAMAGE[kind][0](idx)
        assert main([*argv, *opts], load_system=fake_loader()) == 0, argv
        out = capsys.readouterr()
        assert "Traceback" not in out.err and "is damaged" in out.err, out.err
        assert json.loads(out.out)["passages" if argv[0] == "ask" else "hits"]
        assert len(ChunkIndex.load(idx).documents) == len(ARTICLES)


def test_verify_false_checks_sizes_and_counts_but_not_hashes(tmp_path):
    idx = tmp_path / "idx"
    version = index_of().save(idx)
    chunks = idx / version / "chunks.jsonl"
    data = bytearray(chunks.read_bytes())
    data[0:1] = b"\xff"  # same size, not UTF-8
    chunks.write_bytes(bytes(data))
    with pytest.raises(QAError, match=r"chunks.jsonl does not match its checksum"):
        ChunkIndex.load(idx)
    with pytest.raises(QAError, match=r"damaged \(chunks.jsonl:1: not UTF-8 text\)"):
        ChunkIndex.load(idx, verify=False)


# ---- a writer killed at any step -------------------------------------------------------------

SAVER = """
import sys
from tests.test_store_safety import index_of
index_of(sys.argv[2].split(","), kind=sys.argv[3]).save(sys.argv[1])
print("saved", flush=True)
"""
OLD, NEW = ("genf.txt", "nato.txt", "donbass.txt"), tuple(ARTICLES)


def start_saver(idx: Path, names, *, pause_at: str | None = None, kind: str = "flat", script: str = SAVER):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(PAUSE_ENV, None)
    if pause_at is not None:
        env[PAUSE_ENV] = pause_at
    return subprocess.Popen([sys.executable, "-c", script, str(idx), ",".join(names), kind], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill_when_paused(process: subprocess.Popen, point: str) -> None:
    """Wait until the process says it paused at ``point`` (it must), then SIGKILL it."""
    line = process.stderr.readline()
    if f"{PAUSE_ENV}={point}: paused" not in line:
        process.kill()
        raise AssertionError(f"the writer did not pause at {point}: {line!r} {process.communicate()}")
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stderr.close()
    process.stdout.close()


@pytest.mark.parametrize("point, survivor", [("temp-written", OLD), ("after-version-written", OLD),
                                             ("after-pointer-switched", NEW)])
@pytest.mark.parametrize("layout", ["versions", "flat"])
def test_a_writer_killed_at_each_step_leaves_a_complete_index(point, survivor, layout, tmp_path):
    idx = tmp_path / "idx"
    if layout == "flat":
        save_flat(index_of(OLD), idx)
    else:
        index_of(OLD).save(idx)
    before = current_version(idx)
    kill_when_paused(start_saver(idx, NEW, pause_at=point), point)

    loaded = ChunkIndex.load(idx)  # a new start: cleans up, then loads
    assert sorted(loaded.documents) == sorted(survivor) and len(loaded) == len(loaded.chunks) > 0
    assert hidden(idx) == []  # the killed writer's temp folder is gone
    if survivor == OLD:
        assert loaded.version == before and versions(idx) == ([] if layout == "flat" else [before])
    else:
        assert loaded.version != before
        expected = [loaded.version] if layout == "flat" else sorted([before, loaded.version])
        assert versions(idx) == expected  # the replaced one is kept a while for readers
        assert not [p for p in idx.iterdir() if p.name in ("chunks.jsonl", "documents.jsonl", "bm25")]
    # and the next save goes through as usual
    assert sorted(ChunkIndex.load(idx).documents) == sorted(survivor)
    index_of(NEW).save(idx)
    assert sorted(ChunkIndex.load(idx).documents) == sorted(NEW) and hidden(idx) == []


def test_writers_killed_at_random_instants_never_leave_no_index(tmp_path):
    idx = tmp_path / "idx"
    index_of(OLD).save(idx)
    loop = SAVER.replace("index_of(sys.argv[2]", "while True: index_of(sys.argv[2]")
    rng = random.Random(15)
    for round_ in range(4):
        process = start_saver(idx, NEW if round_ % 2 else OLD, script=loop)
        time.sleep(0.4 + rng.random() * 0.6)  # import and a few saves in, then anywhere in one
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        loaded = ChunkIndex.load(idx)
        assert sorted(loaded.documents) in (sorted(OLD), sorted(NEW)) and hidden(idx) == []
        assert len(versions(idx)) <= 2 and sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_readers_in_another_process_always_load_a_complete_index_while_versions_switch(tmp_path):
    idx = tmp_path / "idx"
    index_of(OLD).save(idx)
    writer = start_saver(idx, NEW, script=SAVER.replace("index_of(sys.argv[2]", "for _ in range(25): index_of(sys.argv[2]"))
    seen = set()
    try:
        while writer.poll() is None:
            loaded = ChunkIndex.load(idx)
            assert len(loaded.vectors) == len(loaded.chunks) and loaded.chunks
            seen.add(loaded.version)
    finally:
        out, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert len(seen) >= 2 and sorted(ChunkIndex.load(idx).documents) == sorted(NEW)


# ---- atomic_directory (model caches): a kill between its two renames -----------------------

def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


ATOMIC_WRITER = """
import sys
from embeddings.atomic import atomic_directory
with atomic_directory(sys.argv[1]) as tmp:
    (tmp / "model.bin").write_text("neu", encoding="utf-8")
"""


def test_a_kill_between_atomic_directory_renames_restores_the_old_copy(tmp_path):
    target = tmp_path / "model"
    with atomic_directory(target) as tmp:
        (tmp / "model.bin").write_text("alt", encoding="utf-8")
    kill_when_paused(start_saver(target, ("x",), pause_at="atomic-directory-moved-aside", script=ATOMIC_WRITER),
                     "atomic-directory-moved-aside")
    assert not target.exists()  # between the renames: the old copy is aside, the new one in temp
    assert len(recover_directory(target)) == 2  # restored, and the temp folder removed
    assert (target / "model.bin").read_text(encoding="utf-8") == "alt"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]
    with atomic_directory(target) as tmp:
        (tmp / "model.bin").write_text("neu", encoding="utf-8")
    assert (target / "model.bin").read_text(encoding="utf-8") == "neu"


def test_an_index_stranded_by_the_old_two_rename_swap_is_restored_on_load(tmp_path):
    """What the earlier ChunkIndex.save (atomic_directory on the index folder) left when killed
    between its renames: no index folder, the complete old one aside, the new one in temp."""
    idx = tmp_path / "idx"
    save_flat(index_of(OLD), tmp_path / f".idx.old.{_dead_pid()}")
    save_flat(index_of(NEW), tmp_path / ".idx.tmp.k3j9x2ab")
    loaded = ChunkIndex.load(idx)
    assert sorted(loaded.documents) == sorted(OLD)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["idx"]


def test_leftovers_of_a_live_writer_are_left_alone(tmp_path):
    target = tmp_path / "model"
    (tmp_path / f".model.tmp.{os.getpid()}.abc").mkdir()
    assert recover_directory(target) == [] and (tmp_path / f".model.tmp.{os.getpid()}.abc").exists()
    idx = tmp_path / "idx"
    index_of(OLD).save(idx)
    (idx / f"{TEMP_PREFIX}{os.getpid()}.xyz").mkdir()
    from embeddings.locking import writer_lock

    with writer_lock(idx):  # a writer at work (here: this thread): nothing is cleaned
        assert clean_index_dir(idx) == []
    assert clean_index_dir(idx) == [f"{TEMP_PREFIX}{os.getpid()}.xyz"]
