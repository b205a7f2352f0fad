"""`ngram-order --preset tiny`: the robust part of the finding. The unigram model scores every line
and its shuffle exactly alike, the bigram model prefers the real order; the fraction of validation
n-grams never seen in training rises with the order; Kneser-Ney beats add-1 once contexts are long."""

import json

import numpy as np

from lmlab.cli import main
from lmlab.experiments.ngram_order import shuffled, swap_ends


def test_tiny_run_shows_sparsity_and_the_unigram_order_blindness(tmp_path, capsys):
    out = tmp_path / "ngram"
    assert main(["experiment", "run", "ngram-order", "--preset", "tiny", "--out", str(out), "--json"]) == 0
    numbers = json.loads(capsys.readouterr().out)["numbers"]
    orders = [numbers["orders"][str(n)] for n in range(1, 5)]
    unseen = [o["unseen"] for o in orders]
    assert all(a < b for a, b in zip(unseen, unseen[1:])) and unseen[-1] > 0.3
    assert all(a["ngrams"] < b["ngrams"] for a, b in zip(orders, orders[1:]))
    kn = [o["arms"]["Kneser-Ney"] for o in orders]
    assert kn[0]["ties"] == 1.0 and kn[0]["largest_difference"] == 0.0 and kn[0]["sentence"] == kn[0]["swapped"]
    assert kn[1]["prefers_real_order"] > 0.8 and kn[1]["ties"] < 0.05
    assert kn[1]["perplexity"] < 0.5 * kn[0]["perplexity"]
    assert orders[-1]["arms"]["add-1"]["perplexity"] > 10 * kn[-1]["perplexity"]
    assert (out / "ngram-order.png").read_bytes()[:4] == b"\x89PNG"


def test_the_shuffles_differ_from_the_line():
    assert swap_ends(["I", "like", "eating", "apples"]) == ["apples", "like", "eating", "I"]
    rng = np.random.default_rng(0)
    for line in ([1, 2], [3, 3, 4], [3, 4, 3], [5, 6, 7, 8]):
        other = shuffled(line, rng)
        assert other != line and sorted(other) == sorted(line)
