import pytest

from embeddings.atomic import atomic_directory


def test_new_folder_appears_whole(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "a.txt").write_text("eins", encoding="utf-8")
        assert not target.exists()  # nothing visible until the block succeeds
    assert (target / "a.txt").read_text(encoding="utf-8") == "eins"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_replaces_old_folder_and_a_failure_keeps_it(tmp_path):
    target = tmp_path / "out"
    with atomic_directory(target) as tmp:
        (tmp / "old.txt").write_text("alt", encoding="utf-8")
    with atomic_directory(target) as tmp:
        (tmp / "new.txt").write_text("neu", encoding="utf-8")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "half.txt").write_text("halb", encoding="utf-8")
            raise RuntimeError("crash while writing")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_atomic_file_replaces_only_on_success(tmp_path):
    from embeddings.atomic import atomic_file

    target = tmp_path / "a.txt"
    with atomic_file(target) as tmp:
        tmp.write_text("eins", encoding="utf-8")
    assert target.read_text(encoding="utf-8") == "eins"
    with pytest.raises(RuntimeError):
        with atomic_file(target) as tmp:
            tmp.write_text("halb", encoding="utf-8")
            raise RuntimeError("crash")
    assert target.read_text(encoding="utf-8") == "eins"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
