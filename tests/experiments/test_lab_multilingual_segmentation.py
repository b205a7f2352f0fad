"""`multilingual-segmentation --preset tiny` (pydoc and three ciphers of it: no download): the robust
part is the mechanism. A language cut to a few lines is over-segmented by a shared vocabulary,
temperature upsampling gives it back pieces, and the big languages pay; plus the sampling rule."""

import json
import math

import pytest

from lmlab.cli import main
from lmlab.experiments.multilingual_segmentation import (LANGUAGES, MultilingualSettings, cipher, mixes,
                                                         temperature_shares)


def test_tiny_run_small_languages_are_over_segmented_and_upsampling_helps(tmp_path, capsys):
    out = tmp_path / "ms"
    assert main(["experiment", "run", "multilingual-segmentation", "--preset", "tiny", "--out", str(out),
                 "--json"]) == 0
    results = json.loads(capsys.readouterr().out)["numbers"]["results"]
    assert set(results) == {"BPE", "Unigram"}
    for numbers in results.values():
        tpw = {mix: {name: numbers[mix][name]["tokens_per_word"] for name in LANGUAGES} for mix in numbers}
        for small in ("fr", "cs"):
            assert tpw["cut"][small] > tpw["full"][small] * 1.1  # over-segmented when cut
            assert tpw["upsampled"][small] < tpw["cut"][small]  # upsampling gives pieces back
        assert tpw["upsampled"]["en"] > tpw["cut"]["en"]  # and English pays
        assert numbers["cut"]["lines"] == {"en": 400, "de": 400, "fr": 40, "cs": 40}
    assert (out / "multilingual-segmentation.png").read_bytes()[:4] == b"\x89PNG"


def test_temperature_shares_go_from_natural_to_uniform():
    sizes = {"en": 1000, "cs": 10}
    assert temperature_shares(sizes, 1.0) == pytest.approx({"en": 1000 / 1010, "cs": 10 / 1010})
    assert temperature_shares(sizes, 0.3) == pytest.approx({"en": 1000 ** 0.3 / (1000 ** 0.3 + 10 ** 0.3),
                                                            "cs": 10 ** 0.3 / (1000 ** 0.3 + 10 ** 0.3)})
    assert temperature_shares(sizes, 1e-9)["cs"] == pytest.approx(0.5)


def test_the_mixes_keep_the_cut_total_and_draw_the_upsampled_shares():
    data = {name: ([f"{name} caption {i}" for i in range(1000)], []) for name in LANGUAGES}
    settings = MultilingualSettings(lines=1000, small_share=0.02, alpha=0.3)
    corpora = mixes(data, settings, seed=0)
    assert {name: len(lines) for name, lines in corpora["cut"].items()} == {"en": 1000, "de": 1000, "fr": 20, "cs": 20}
    upsampled = {name: len(lines) for name, lines in corpora["upsampled"].items()}
    assert sum(upsampled.values()) == pytest.approx(2040, abs=2)
    assert upsampled["cs"] / 2040 == pytest.approx(20 ** 0.3 / (2 * 1000 ** 0.3 + 2 * 20 ** 0.3), abs=1e-3)
    assert set(corpora["upsampled"]["cs"]) <= set(corpora["cut"]["cs"])  # repeats of the few kept captions
    assert math.isclose(len(set(corpora["upsampled"]["cs"])), 20, abs_tol=3)


def test_a_cipher_is_a_letter_permutation():
    text = "the quick brown fox jumps over the lazy dog"
    ciphered = cipher(text, 3)
    assert ciphered != text and sorted(set(ciphered)) == sorted(set(text))
    assert [len(w) for w in ciphered.split()] == [len(w) for w in text.split()]


def test_missing_multi30k_is_a_clear_error(tmp_path, capsys):
    assert main(["experiment", "run", "multilingual-segmentation", "--preset", "tiny", "--out", str(tmp_path / "x"),
                 "--set", f"multi30k={tmp_path / 'nowhere'}"]) == 2
    assert "Multi30k" in capsys.readouterr().err
