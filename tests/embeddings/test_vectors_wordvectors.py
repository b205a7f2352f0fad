"""WordVectors on hand-made vectors: similarity, neighbours, 3CosAdd / 3CosMul, files."""

import math

import pytest
import torch

from lmlab.embeddings.vectors import WordVectors, load_vectors
from lmlab.errors import UserError


def at(degrees, length=1.0):
    return [length * math.cos(math.radians(degrees)), length * math.sin(math.radians(degrees))]


@pytest.fixture
def royal():
    """man 0deg, king 30deg, woman 90deg, queen 120deg (king turned like man -> woman), apple 200deg."""
    words = ["man", "king", "woman", "queen", "apple"]
    vectors = torch.tensor([at(0, 2.0), at(30), at(90, 3.0), at(120), at(200)])
    return WordVectors(words, vectors)


def test_cosine_dot_and_neighbours(royal):
    assert royal.similarity("man", "woman") == pytest.approx(0.0, abs=1e-6)
    assert royal.similarity("man", "king") == pytest.approx(math.sqrt(3) / 2)
    assert royal.dot("man", "woman") == pytest.approx(0.0, abs=1e-6)
    assert royal.dot("man", "king") == pytest.approx(2.0 * math.sqrt(3) / 2)  # lengths count in the dot product
    neighbours = royal.most_similar("king", 4)
    assert [w for w, _ in neighbours] == ["man", "woman", "queen", "apple"]  # 30, 60, 90, 170 degrees away
    assert neighbours[0][1] == pytest.approx(math.cos(math.radians(30)))
    assert royal.normed.norm(dim=1).tolist() == pytest.approx([1.0] * 5)


def test_3cosadd_and_3cosmul_by_hand(royal):
    add = royal.analogy("man", "king", "woman", n=2, method="add")
    # queen: cos(queen, king) - cos(queen, man) + cos(queen, woman) = 0 + 0.5 + sqrt(3)/2
    assert add[0][0] == "queen" and add[0][1] == pytest.approx(0.5 + math.sqrt(3) / 2)
    # apple: cos(170) - cos(200) + cos(110)
    expected_apple = math.cos(math.radians(170)) - math.cos(math.radians(200)) + math.cos(math.radians(110))
    assert add[1] == ("apple", pytest.approx(expected_apple))
    mul = royal.analogy("man", "king", "woman", n=1, method="mul")
    shift = lambda c: (c + 1) / 2  # noqa: E731
    expected = shift(0.0) * shift(math.sqrt(3) / 2) / (shift(-0.5) + 1e-3)
    assert mul == [("queen", pytest.approx(expected))]
    answers = royal.answer_analogies([0], [1], [2], method="mul")
    assert answers.tolist() == [3]


def test_unknown_words_and_bad_methods_are_user_errors(royal):
    with pytest.raises(UserError, match="'prince'"):
        royal.most_similar("prince")
    with pytest.raises(UserError, match="add"):
        royal.analogy("man", "king", "woman", method="sub")


def test_text_format_round_trip(tmp_path, royal):
    path = tmp_path / "vectors.txt"
    royal.save_text(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "5 2" and lines[1].startswith("man 2 ")
    again = load_vectors(path)
    assert again.words == royal.words
    assert torch.allclose(again.vectors, royal.vectors, atol=1e-5)


def test_run_folder_round_trip_and_corrupt_files(tmp_path, royal):
    royal.counts = None
    royal.save(tmp_path)
    again = load_vectors(tmp_path)
    assert again.words == royal.words and torch.equal(again.vectors, royal.vectors)
    bad = tmp_path / "bad.txt"
    bad.write_text("2 2\nman 1 0\nking 1\n")
    with pytest.raises(UserError, match=r"bad.txt:3"):
        load_vectors(bad)
    bad.write_text("hello\n")
    with pytest.raises(UserError, match="header"):
        load_vectors(bad)
    with pytest.raises(UserError, match="neither"):
        load_vectors(tmp_path / "missing")
    (tmp_path / "vocab.json").write_text('{"format_version": 99}')
    with pytest.raises(UserError, match="vocab.json"):
        load_vectors(tmp_path)


def test_pca_map_coordinates_keep_the_geometry(royal):
    points = royal.pca_2d(["man", "king", "woman", "queen"])
    assert points.shape == (4, 2)
    # a rotation of centred 2-D points keeps their pairwise distances
    original = royal.vectors[:4].double()
    assert torch.allclose(torch.cdist(torch.from_numpy(points), torch.from_numpy(points)),
                          torch.cdist(original, original), atol=1e-5)
