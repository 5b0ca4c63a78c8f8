import pytest

from qa.retrieval.fusion import fuse, min_max, reciprocal_rank_fusion, weighted_sum

DENSE = [(1, 0.90), (2, 0.85), (3, 0.80)]
SPARSE = [(3, 12.0), (4, 6.0), (1, 3.0)]


def test_rrf_hand_worked():
    # k=60: row 1 = 1/61 + 1/63, row 3 = 1/63 + 1/61, row 2 = 1/62, row 4 = 1/62.
    fused = dict(reciprocal_rank_fusion(DENSE, SPARSE, rrf_k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert fused[4] == pytest.approx(1 / 62)


def test_rrf_order_breaks_ties_by_row_id():
    assert [row for row, _ in fuse(DENSE, SPARSE, method="rrf")] == [1, 3, 2, 4]


def test_rrf_small_k_rewards_first_places():
    dense = [(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)]
    sparse = [(4, 9.0), (2, 8.0), (3, 7.0), (1, 1.0)]
    # Row 1 ranks 1st and 4th, row 2 ranks 2nd twice.
    # k=60: 1/61 + 1/64 = 0.03202 < 2/62 = 0.03226, so row 2 wins ...
    assert fuse(dense, sparse, method="rrf", rrf_k=60)[0][0] == 2
    # ... k=1: 1/2 + 1/5 = 0.7 > 2/3, so the first places (rows 1 and 4) win.
    assert [row for row, _ in fuse(dense, sparse, method="rrf", rrf_k=1)][:3] == [1, 4, 2]


def test_rrf_dense_weight_shifts_the_balance():
    fused = dict(reciprocal_rank_fusion([(1, 0.9)], [(2, 5.0)], rrf_k=0, dense_weight=0.75))
    assert fused == {1: pytest.approx(1.5), 2: pytest.approx(0.5)}


def test_min_max_hand_worked():
    assert min_max(SPARSE) == {3: 1.0, 4: pytest.approx(1 / 3), 1: 0.0}
    assert min_max([(7, 2.0), (8, 2.0)]) == {7: 1.0, 8: 1.0}
    assert min_max([]) == {}


def test_weighted_sum_hand_worked():
    # dense normalised: 1 -> 1, 2 -> 0.5, 3 -> 0; sparse: 3 -> 1, 4 -> 1/3, 1 -> 0.
    fused = dict(weighted_sum(DENSE, SPARSE, dense_weight=0.6))
    assert fused[1] == pytest.approx(0.6)
    assert fused[2] == pytest.approx(0.3)
    assert fused[3] == pytest.approx(0.4)
    assert fused[4] == pytest.approx(0.4 / 3)
    assert [row for row, _ in fuse(DENSE, SPARSE, method="weighted", dense_weight=0.6)] == [1, 3, 2, 4]


def test_weight_one_or_zero_reproduces_one_list():
    assert [r for r, _ in fuse(DENSE, SPARSE, method="weighted", dense_weight=1.0)][:3] == [1, 2, 3]
    assert [r for r, _ in fuse(DENSE, SPARSE, method="rrf", dense_weight=0.0)][:3] == [3, 4, 1]


def test_default_is_the_tuned_weighted_sum():
    assert fuse(DENSE, SPARSE) == weighted_sum(DENSE, SPARSE, dense_weight=0.8)
    assert fuse(DENSE, SPARSE, method="rrf") == reciprocal_rank_fusion(DENSE, SPARSE, rrf_k=60)


def test_k_limits_and_empty_inputs():
    assert len(fuse(DENSE, SPARSE, k=2)) == 2
    assert fuse([], [], method="weighted") == []
    assert [r for r, _ in fuse(DENSE, [], method="rrf")] == [1, 2, 3]
    assert [r for r, _ in fuse([], SPARSE, method="weighted")] == [3, 4, 1]


@pytest.mark.parametrize("kwargs", [{"method": "max"}, {"dense_weight": 1.5}, {"method": "rrf", "rrf_k": -1}])
def test_bad_parameters_are_refused(kwargs):
    with pytest.raises(ValueError):
        fuse(DENSE, SPARSE, **kwargs)
