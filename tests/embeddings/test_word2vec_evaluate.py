"""Analogy accuracy and WordSim Spearman on hand-made vectors and files; Spearman vs hand and scipy."""

import math

import numpy as np
import pytest
import torch

from conftest import shared_data
from lmlab.embeddings.evaluate import (average_ranks, evaluate_analogies, evaluate_similarity, read_analogies,
                                       read_wordsim, spearman)
from lmlab.embeddings.vectors import WordVectors


def test_spearman_by_hand_with_ties():
    assert average_ranks([10, 20, 20, 5]).tolist() == [2, 3.5, 3.5, 1]
    # ranks (1 2 3 4) vs (1 2 4 3): d^2 sums to 2, rho = 1 - 6*2 / (4 * 15) = 0.8
    assert spearman([1, 2, 3, 4], [10, 20, 40, 30]) == pytest.approx(0.8)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # with ties: ranks x = (1, 2.5, 2.5, 4), y = (1, 2, 3, 4): Pearson of these = 0.9486833
    assert spearman([1, 2, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10))


def test_spearman_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x = rng.integers(0, 6, size=60)  # many ties
    y = x + rng.normal(size=60)
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).statistic, abs=1e-12)


def vectors_2d():
    angles = {"man": 0, "king": 30, "woman": 90, "queen": 120, "paris": 200, "france": 230, "rome": 300,
              "italy": 330, "big": 160}
    return WordVectors(list(angles), torch.tensor([[math.cos(math.radians(a)), math.sin(math.radians(a))]
                                                   for a in angles.values()]))


def test_analogy_accuracy_coverage_and_sections(tmp_path):
    path = tmp_path / "questions.txt"
    path.write_text(": capital-common-countries\n"
                    "Paris France Rome Italy\n"      # italy = france + 30deg... correct
                    "Paris France Berlin Germany\n"  # not covered
                    ": family\n"
                    "man king woman queen\n"         # correct
                    "man king woman paris\n"         # covered, wrong (the answer is queen)
                    ": gram1-adjective-to-adverb\n"
                    "big bigger man king\n")         # not covered
    result = evaluate_analogies(vectors_2d(), path)
    sections = result["sections"]
    assert sections["capital-common-countries"] == {"correct": 1, "covered": 1, "total": 2, "coverage": 0.5,
                                                    "accuracy": 1.0}
    assert sections["family"]["correct"] == 1 and sections["family"]["accuracy"] == 0.5
    assert result["semantic"]["covered"] == 3 and result["semantic"]["accuracy"] == pytest.approx(2 / 3)
    assert result["syntactic"]["covered"] == 0 and result["syntactic"]["total"] == 1
    assert result["total"]["coverage"] == pytest.approx(3 / 5)
    # restricting the vocabulary to the first 4 words leaves only the man/king question answerable
    restricted = evaluate_analogies(vectors_2d(), path, restrict_vocab=4)
    assert restricted["total"]["covered"] == 1 and restricted["total"]["correct"] == 1


def test_wordsim_spearman_and_coverage(tmp_path):
    path = tmp_path / "ws.tsv"
    path.write_text("# header\n# Word 1\tWord 2\tHuman\nman\tking\t9\nman\twoman\t5\nman\tqueen\t1\nman\tzebra\t3\n")
    result = evaluate_similarity(vectors_2d(), path)
    # cosines: king .866 > woman 0 > queen -.5, the same order as the humans' 9 > 5 > 1
    assert result == {"spearman": pytest.approx(1.0), "covered": 3, "total": 4, "coverage": 0.75}


def test_the_real_evaluation_files_parse():
    sections = read_analogies(shared_data("embedding-eval/questions-words.txt"))
    assert len(sections) == 14 and sum(len(s.questions) for s in sections) == 19544
    assert [s.semantic for s in sections].count(True) == 5
    assert len(read_wordsim(shared_data("embedding-eval/wordsim353.tsv"))) == 353
