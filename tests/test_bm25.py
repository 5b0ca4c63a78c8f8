import pytest

from embeddings.bm25 import BM25Index, words_of
from embeddings.errors import QAError

CORPUS = [
    "Die Ukraine verlangt Sicherheitsgarantien vom Westen.",          # 0
    "Die Garantie für die Sicherheit der Ukraine bleibt umstritten.",  # 1
    "Der Kanzler reiste am Montag nach Kiew.",                         # 2
    "Die Sicherheit Europas hängt von der Nato ab.",                   # 3
    "Mehr als 13 000 Menschen wurden im Donbass getötet.",             # 4
    "Die Nato berät über Waffenlieferungen und Garantien.",            # 5
]


def rows(results):
    return [row for row, _ in results]


def test_stemming_matches_inflected_forms():
    index = BM25Index.build(CORPUS, split_compounds=False)
    # "Garantien" (query) and "Garantie" (row 1) share the Snowball stem "garanti".
    assert set(rows(index.search("Garantien", k=10))) == {1, 5}


def test_stop_words_do_not_match():
    assert words_of("Die der das und ist Kiew") == ["kiew"]
    index = BM25Index.build(CORPUS)
    assert index.search("die der und", k=5) == []
    assert rows(index.search("Wer reiste nach Kiew?", k=1)) == [2]


def test_numbers_and_unicode_words():
    index = BM25Index.build(CORPUS)
    assert rows(index.search("Wie viele Menschen wurden im Donbass getötet?", k=1)) == [4]
    assert rows(index.search("13 000", k=1)) == [4]


def test_compound_splitting_finds_the_parts():
    split = BM25Index.build(CORPUS, split_compounds=True)
    plain = BM25Index.build(CORPUS, split_compounds=False)
    # The compound row 0 is found through its parts from a query that only has the parts ...
    assert 0 in rows(split.search("Garantie Sicherheit", k=10))
    assert 0 not in rows(plain.search("Garantie Sicherheit", k=10))
    # ... and a compound query finds the rows that spell it out.
    assert {1, 3} <= set(rows(split.search("Sicherheitsgarantien", k=10)))
    assert rows(plain.search("Sicherheitsgarantien", k=10)) == [0]
    tokens = split.analyze("Sicherheitsgarantien")
    assert tokens[0] == "sicherheitsgaranti" and "garanti" in tokens[1:]


def test_common_words_are_not_split():
    # "mitglied" occurs more often on its own than "mit"+"glied" pieces could justify.
    index = BM25Index.build(["Mitglied Mitglied Mitglied", "Glied einer Kette"])
    assert index.analyze("Mitglied") == ["mitglied"]


def test_search_respects_k_allowed_ids_and_custom_ids():
    index = BM25Index.build(CORPUS, ids=[10 * i for i in range(len(CORPUS))])
    assert rows(index.search("Kiew", k=10)) == [20]
    assert len(index.search("Nato Ukraine Sicherheit", k=2)) == 2
    assert set(rows(index.search("Nato Ukraine", k=10, allowed_ids=[30]))) == {30}
    assert index.search("Quantenphysik", k=5) == []
    assert index.search("", k=5) == []


def test_add_and_remove_equal_a_fresh_build():
    grown = BM25Index.build(CORPUS[:3], ids=[0, 1, 2])
    grown.add(CORPUS[3:], ids=[3, 4, 5])
    grown.add(["Unsinn über Garantien"], ids=[99])
    grown.remove([99, 2, 12345])
    fresh = BM25Index.build([CORPUS[i] for i in (0, 1, 3, 4, 5)], ids=[0, 1, 3, 4, 5])
    for query in ("Sicherheitsgarantien", "Nato", "Menschen im Donbass", "Garantien der Ukraine"):
        got, want = grown.search(query, k=10), fresh.search(query, k=10)
        assert rows(got) == rows(want) and rows(want)
        assert [s for _, s in got] == pytest.approx([s for _, s in want])
    assert sorted(grown.ids) == [0, 1, 3, 4, 5]


def test_replacing_a_row_by_id():
    index = BM25Index.build(CORPUS)
    index.add(["Ein ganz neuer Text über Raketen."], ids=[2])
    assert rows(index.search("Kanzler", k=5)) == []
    assert rows(index.search("Raketen", k=5)) == [2]
    assert len(index) == len(CORPUS)


def test_save_load_round_trip(tmp_path):
    index = BM25Index.build(CORPUS, ids=[5, 6, 7, 8, 9, 10], k1=1.2)
    target = tmp_path / "bm25"
    index.save(target)
    index.remove([5])
    index.save(target)  # overwriting an existing index swaps it in
    loaded = BM25Index.load(target)
    assert loaded.settings == index.settings and loaded.settings.k1 == 1.2
    assert loaded.ids == index.ids
    for query in ("Sicherheitsgarantien", "Nato", "Donbass getötet"):
        assert loaded.search(query, k=10) == index.search(query, k=10)
    assert not [p for p in tmp_path.iterdir() if p.name != "bm25"]  # no temp folders left


def test_load_errors_are_actionable(tmp_path):
    with pytest.raises(QAError, match="qa index --rebuild"):
        BM25Index.load(tmp_path / "missing")
    BM25Index.build(CORPUS).save(tmp_path / "b")
    (tmp_path / "b" / "rows.jsonl").write_text("[0, \"a\"]\nnot json\n", encoding="utf-8")
    with pytest.raises(QAError, match=r"rows\.jsonl:2"):
        BM25Index.load(tmp_path / "b")


def test_empty_index_and_bad_input():
    assert BM25Index.build([]).search("Nato", k=3) == []
    with pytest.raises(ValueError):
        BM25Index.build(["a", "b"], ids=[1, 1])
    with pytest.raises(QAError, match="stemmer"):
        BM25Index.build(["a"], stemmer="klingon")
