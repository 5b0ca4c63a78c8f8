import faiss
import numpy as np
import pytest

from embeddings.ann import (
    FLAT_MAX_VECTORS,
    KINDS,
    VectorIndex,
    choose_kind,
    describe_index,
    index_kind,
    make_index,
    read_index,
    set_search_params,
    write_index,
)

DIM = 32
SMALL_IVF = {"nlist": 8, "m": 16, "nbits": 5, "nprobe": 8}  # nprobe = nlist: only PQ error left
SMALL_HNSW = {"M": 16, "efConstruction": 40}


def params(kind):
    return {"ivfpq": SMALL_IVF, "hnsw": SMALL_HNSW}.get(kind, {})


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # OpenMP threads spin while waiting; on a busy 2-core machine that slows tiny builds 20x.
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    yield
    faiss.omp_set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    centres = rng.standard_normal((20, DIM)).astype(np.float32)
    x = centres[rng.integers(0, 20, 1500)] + 0.3 * rng.standard_normal((1500, DIM)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ids = np.arange(1500, dtype=np.int64) * 10 + 7  # not 0..n-1, so id mix-ups show
    return x, ids


def exact_top(x, ids, queries, k):
    return ids[np.argsort(-(queries @ x.T), axis=1)[:, :k]]


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_keeps_ids_and_finds_neighbours(kind, data):
    x, ids = data
    index = VectorIndex.create(kind, DIM, n_expected=len(x), **params(kind))
    index.add(x, ids)
    assert index_kind(index.index) == kind and len(index) == len(x)
    scores, found = index.search(x[:50], k=10)
    assert found.shape == (50, 10) and set(found.ravel()) <= set(ids)
    truth = exact_top(x, ids, x[:50], 10)
    recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth)])
    assert recall >= (0.9 if kind != "ivfpq" else 0.3)
    if kind != "ivfpq":  # uncompressed kinds return the query itself first, with cosine 1
        assert (found[:, 0] == ids[:50]).all()
        assert scores[:, 0] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_remove_hides_vectors_and_ids_can_be_reused(kind, data):
    x, ids = data
    index = VectorIndex.create(kind, DIM, n_expected=len(x), **params(kind))
    index.add(x, ids)
    assert index.remove(ids[:100].tolist() + [999_999]) == 100
    assert index.remove(ids[:10]) == 0  # removing twice counts nothing
    assert len(index) == len(x) - 100
    _, found = index.search(x[:100], k=5)
    assert not set(found.ravel()) & set(ids[:100])
    assert set(index.live_ids()) == set(ids[100:])
    index.add(x[:3], ids[:3])  # a removed id may come back (HNSW compacts first)
    _, found = index.search(x[:3], k=1)
    if kind != "ivfpq":
        assert found[:, 0].tolist() == ids[:3].tolist()
    assert len(index) == len(x) - 97


def test_hnsw_tombstones_compact_past_the_ratio(data):
    x, ids = data
    index = VectorIndex.create("hnsw", DIM, **SMALL_HNSW)
    index.add(x, ids)
    index.remove(ids[:300])  # 20%: tombstones only
    assert index.tombstones and index.index.ntotal == len(x)
    index.remove(ids[300:500])  # 33% > 25%: the graph is rebuilt without them
    assert not index.tombstones and index.index.ntotal == len(x) - 500
    _, found = index.search(x[500:520], k=1)
    assert found[:, 0].tolist() == ids[500:520].tolist()


@pytest.mark.parametrize("kind", KINDS)
def test_allowed_ids_filter(kind, data):
    x, ids = data
    index = VectorIndex.create(kind, DIM, n_expected=len(x), **params(kind))
    index.add(x, ids)
    index.remove(ids[:5])
    allowed = ids[:20]
    _, found = index.search(x[:3], k=30, allowed_ids=allowed)
    real = found[found >= 0]
    assert set(real) <= set(ids[5:20]) and len(set(real)) > 0


def test_ranking_is_a_list_of_id_score_pairs(data):
    x, ids = data
    index = VectorIndex.create("flat", DIM)
    index.add(x[:5], ids[:5])
    ranking = index.ranking(x[2], k=10)  # k above the stored count: only real results
    assert len(ranking) == 5 and ranking[0] == (int(ids[2]), pytest.approx(1.0, abs=1e-5))
    assert [s for _, s in ranking] == sorted((s for _, s in ranking), reverse=True)


def test_adding_a_present_id_is_refused(data):
    x, ids = data
    index = VectorIndex.create("flat", DIM)
    index.add(x[:10], ids[:10])
    with pytest.raises(ValueError, match="already present"):
        index.add(x[:1], ids[:1])
    with pytest.raises(ValueError, match="shape"):
        index.add(x[:2, :5], ids[20:22])


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind, data, tmp_path):
    x, ids = data
    index = VectorIndex.create(kind, DIM, n_expected=len(x), **params(kind))
    index.add(x, ids)
    index.remove(ids[:10])
    index.save(tmp_path / "vectors")
    loaded = VectorIndex.load(tmp_path / "vectors")
    assert loaded.kind == kind and loaded.tombstones == index.tombstones
    assert describe_index(loaded.index) == describe_index(index.index)
    for a, b in zip(loaded.search(x[:20], k=5), index.search(x[:20], k=5)):
        np.testing.assert_array_equal(a, b)


def test_write_index_is_atomic_and_readable(data, tmp_path):
    x, ids = data
    index = make_index("flat", DIM)
    index.add_with_ids(x[:10], ids[:10])
    write_index(index, tmp_path / "a.faiss")
    write_index(index, tmp_path / "a.faiss")
    assert [p.name for p in tmp_path.iterdir()] == ["a.faiss"]
    assert read_index(tmp_path / "a.faiss").ntotal == 10


def test_search_params_and_description():
    hnsw = make_index("hnsw", DIM, M=8, efConstruction=20, efSearch=10)
    set_search_params(hnsw, ef_search=99)
    assert describe_index(hnsw) == {"kind": "hnsw", "dim": DIM, "vectors": 0, "M": 8,
                                    "efConstruction": 20, "efSearch": 99}
    ivf = make_index("ivfpq", DIM, n_expected=10_000, m=8)
    assert describe_index(ivf)["nlist"] == 100  # about sqrt(n_expected)
    set_search_params(ivf, nprobe=3)
    assert faiss.downcast_index(ivf).nprobe == 3
    with pytest.raises(ValueError):
        set_search_params(make_index("flat", DIM), ef_search=5)
    with pytest.raises(ValueError):
        make_index("annoy", DIM)
    with pytest.raises(ValueError):
        make_index("hnsw", DIM, nprobe=4)


def test_choose_kind_thresholds():
    assert choose_kind(0) == "flat"
    assert choose_kind(FLAT_MAX_VECTORS) == "flat"
    assert choose_kind(FLAT_MAX_VECTORS + 1) == "hnsw"
    assert choose_kind(1_000_000) == "hnsw"
    # 1M x 384 floats are 1.5 GB (+ graph): a 1 GB budget calls for compression.
    assert choose_kind(1_000_000, memory_budget_bytes=1 << 30) == "ivfpq"
    assert choose_kind(1_000_000, memory_budget_bytes=4 << 30) == "hnsw"
    with pytest.raises(ValueError):
        choose_kind(-1)
