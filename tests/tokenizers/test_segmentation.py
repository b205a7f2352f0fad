"""Word-boundary scores (lmlab/tokenizers/segmentation.py) against hand-computed values, and the
text each token writes for the tokenizers that cut characters into bytes."""

import pytest

from lmlab.tokenizers import BPETokenizer, UnigramTokenizer
from lmlab.tokenizers.segmentation import BoundaryCounts, cut, token_pieces, word_boundaries


def test_word_boundaries_are_the_offsets_between_words():
    assert word_boundaries(["迈向", "充满", "希望"]) == {2, 4}
    assert word_boundaries(["一九九八年"]) == set() and word_boundaries([]) == set()
    assert word_boundaries(["", "ab", "", "c"]) == {2}


def test_scores_by_hand():
    # line 1: gold 迈向|充满|希望 {2, 4}, cut 迈|向充满|希望 {1, 4}: 1 of 2 right
    # line 2: gold 的|新世纪 {1}, cut 的|新|世|纪 {1, 2, 3}: 1 of 3 right
    counts = BoundaryCounts().add({1, 4}, {2, 4}).add({1, 2, 3}, {1})
    assert (counts.correct, counts.predicted, counts.gold) == (2, 5, 3)
    precision, recall, f1 = counts.scores()
    assert precision == pytest.approx(2 / 5) and recall == pytest.approx(2 / 3)
    assert f1 == pytest.approx(2 * 0.4 * (2 / 3) / (0.4 + 2 / 3)) == pytest.approx(0.5)
    assert BoundaryCounts().add(set(), {3}).scores() == (0.0, 0.0, 0.0)
    assert BoundaryCounts().add({2}, {2}).scores() == (1.0, 1.0, 1.0)


def test_pieces_of_byte_level_tokens_that_cut_characters():
    tokenizer = BPETokenizer().train(["中国 人民 中国 hello hello"], vocab_size=262)  # a few merges only
    text = "中国人 hello"
    ids = tokenizer.encode(text)
    pieces = token_pieces(tokenizer, ids)
    assert len(pieces) == len(ids) and "".join(piece or "" for piece in pieces) == text
    assert None in pieces  # a token ending inside a character writes nothing ...
    assert all(piece is None or "\ufffd" not in piece for piece in pieces)  # ... its last byte all of it


def test_pieces_of_unigram_with_byte_fallback():
    tokenizer = UnigramTokenizer().train(["中国人民 中国"] * 5, vocab_size=270)
    ids = tokenizer.encode("民国 ☃")  # "▁民" is no piece; the snowman: three byte pieces
    pieces = token_pieces(tokenizer, ids)
    assert pieces[0] == "" and tokenizer.id_to_token(ids[0]) == "▁"  # the "▁" in front writes nothing
    assert "".join(piece or "" for piece in pieces) == "民国 ☃" and pieces[-3:] == [None, None, "☃"]
    assert cut(tokenizer, "民国 ☃").endswith(" |  |  | ☃")
