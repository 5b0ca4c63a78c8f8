"""Settings → reader: bad reader settings are clear errors before any model is loaded."""
import pytest

from qa.system import build_reader
from embeddings.errors import QAError
from qa.settings import Settings


@pytest.mark.parametrize("env, message", [
    ({"QA_PASSAGE_PRIOR": "forty"}, "QA_PASSAGE_PRIOR='forty' is not a valid float"),
    ({"QA_NULL_WEIGHT": "1,5"}, "QA_NULL_WEIGHT='1,5' is not a valid float"),
    ({"QA_PASSAGE_PRIOR": "x" * 10_000}, "QA_PASSAGE_PRIOR="),
])
def test_malformed_numbers_in_the_environment_name_the_variable(env, message):
    with pytest.raises(QAError, match=message):
        Settings.from_env(env)


def test_reader_settings_parse_from_the_environment():
    settings = Settings.from_env({"QA_READER_MODE": "joint", "QA_PASSAGE_PRIOR": "0", "QA_NULL_WEIGHT": "0.5"})
    assert (settings.reader_mode, settings.passage_prior, settings.null_weight) == ("joint", 0.0, 0.5)


@pytest.mark.parametrize("env, message", [
    ({"QA_READER_MODE": "both"}, "mode must be 'joint' or 'separate'"),
    ({"QA_READER_MODE": "<script>alert(1)</script>"}, "mode must be 'joint' or 'separate'"),
    ({"QA_PASSAGE_PRIOR": "-1"}, "passage_prior must be a finite number >= 0"),
    ({"QA_PASSAGE_PRIOR": "inf"}, "passage_prior must be a finite number >= 0"),
    ({"QA_NULL_WEIGHT": "nan"}, "null_weight must be a finite number >= 0"),
])
def test_bad_reader_settings_fail_before_loading_a_model(env, message, tmp_path):
    # reader_model points nowhere: reaching the loader would give a different error (or a fallback)
    settings = Settings.from_env(env).replace(reader_model=str(tmp_path / "no-model"), cache_dir=tmp_path)
    with pytest.raises(QAError, match=message) as raised:
        build_reader(settings)
    assert "fix QA_READER_MODE, QA_PASSAGE_PRIOR or QA_NULL_WEIGHT" in str(raised.value)
