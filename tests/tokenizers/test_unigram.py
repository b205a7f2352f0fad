"""Unigram (lmlab/tokenizers/unigram.py, lattice.py, unigram_train.py): Viterbi, n-best and expected
counts against brute-force enumeration; SentencePiece's own model segments Botchan identically;
sampling gives several segmentations that all decode back; training is sane next to SentencePiece's."""

import json
import math
import random
from collections import Counter

import pytest
from conftest import shared_data
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from tokenizer_references import HARD_STRINGS, botchan, require

from lmlab.errors import UserError
from lmlab.tokenizers import UnigramTokenizer, lattice, load_tokenizer
from lmlab.tokenizers.unigram import SPACE
from lmlab.tokenizers.unigram_train import digamma

# A small vocabulary over "abc": every character, and overlapping longer pieces.
PIECES = {"a": -2.0, "b": -2.5, "c": -3.0, "ab": -3.1, "bc": -3.3, "abc": -5.9, "ca": -4.0, "bca": -6.2}
IDS = {piece: i for i, piece in enumerate(PIECES)}
SCORES = list(PIECES.values())


def all_segmentations(text):
    """Every way to cut `text` into PIECES (brute force), with its score."""
    if not text:
        return [([], 0.0)]
    found = []
    for end in range(1, len(text) + 1):
        if text[:end] in PIECES:
            for rest, score in all_segmentations(text[end:]):
                found.append(([text[:end]] + rest, PIECES[text[:end]] + score))
    return found


def lattice_of(text):
    return lattice.build_lattice(text, lattice.prefix_table((i, p) for p, i in IDS.items()), -1)


def path_pieces(text, path):
    return [text[start:end] for start, end, _ in path]


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet="abc", max_size=12))
def test_viterbi_nbest_and_expected_counts_match_brute_force(text):
    segmentations = sorted(all_segmentations(text), key=lambda s: -s[1])
    ends = lattice_of(text)
    best = lattice.viterbi(ends, SCORES)
    assert sum(PIECES[p] for p in path_pieces(text, best)) == pytest.approx(segmentations[0][1])
    top = lattice.nbest(ends, SCORES, 5)
    assert [score for score, _ in top] == pytest.approx([score for _, score in segmentations[:5]])
    assert len({tuple(path_pieces(text, path)) for _, path in top}) == len(top)
    counts = [0.0] * len(PIECES)
    total = lattice.expected_counts(ends, [math.exp(s) for s in SCORES], 2.0, counts)
    assert total == pytest.approx(sum(math.exp(score) for _, score in segmentations))
    expected = Counter()
    for pieces, score in segmentations:
        for piece in pieces:
            expected[piece] += 2.0 * math.exp(score) / total
    assert counts == pytest.approx([expected[p] for p in PIECES])


def test_sampling_follows_the_exact_distribution():
    """P(segmentation) = exp(theta * score) / Z; 4000 draws land within 3% of it."""
    text, theta = "abcabc", 0.5
    segmentations = all_segmentations(text)
    z = sum(math.exp(theta * score) for _, score in segmentations)
    rng, ends = random.Random(0), lattice_of(text)
    drawn = Counter(tuple(path_pieces(text, lattice.sample(ends, SCORES, theta, rng))) for _ in range(4000))
    for pieces, score in segmentations:
        assert drawn[tuple(pieces)] / 4000 == pytest.approx(math.exp(theta * score) / z, abs=0.03)


def sentencepiece_botchan():
    """SentencePiece's botchan model read by lmlab (its pieces, scores and normalizer), and the model."""
    spm = require("sentencepiece")
    path = shared_data("sentencepiece/botchan_en_unigram_1000.model")
    return load_tokenizer(path), spm.SentencePieceProcessor(model_file=str(path))


def test_viterbi_equals_sentencepiece_on_every_raw_line_of_botchan():
    tokenizer, reference = sentencepiece_botchan()
    lines = botchan().split("\n")
    assert len(lines) > 4000
    for line in lines:
        assert tokenizer.encode(line) == reference.encode(line), line


def test_unknown_characters_fuse_into_one_unk_as_in_sentencepiece():
    tokenizer, reference = sentencepiece_botchan()
    for text in ["☃☃ a", "a☃b", "x ☃ ☃☃"]:
        assert tokenizer.encode(text) == reference.encode(text)


def test_nbest_scores_equal_sentencepiece_nbest():
    """The same scores (equal ones may come in another order, or swap at the n-th place)."""
    tokenizer, reference = sentencepiece_botchan()

    def scores(segmentations):
        return sorted(sum(tokenizer.pieces[i][1] for i in ids) for ids in segmentations)

    for line in [line for line in botchan().split("\n") if line.strip()][:1500]:
        ours = tokenizer.nbest_encode(line, 8)
        assert scores(ours) == pytest.approx(scores(reference.nbest_encode(line, nbest_size=8)), abs=1e-4)
        assert ours[0] == reference.encode(line)


@pytest.fixture(scope="module")
def trained():
    return UnigramTokenizer(seed=0).train(botchan().splitlines(), vocab_size=1000 + 256 + 4)


def test_sampling_gives_several_segmentations_that_all_decode_back(trained):
    text = "I was always a reckless fellow, and a nuisance to everybody."
    draws = [trained.sample_encode(text, alpha=0.1) for _ in range(100)]
    assert len({tuple(ids) for ids in draws}) > 1
    assert all(trained.decode(ids) == text for ids in draws)
    nbest = trained.nbest_encode(text, 10)
    assert nbest[0] == trained.encode(text) and len({tuple(ids) for ids in nbest}) == 10
    assert all(trained.decode(ids) == text for ids in nbest)
    from_nbest = {tuple(trained.sample_encode(text, alpha=0.5, nbest_size=10)) for _ in range(100)}
    assert len(from_nbest) > 1 and from_nbest <= {tuple(ids) for ids in nbest}
    assert trained.sample_encode(text, nbest_size=1) == trained.encode(text)


def test_training_comes_close_to_sentencepiece(trained):
    """Same corpus, same size: most pieces shared, about as many tokens (SentencePiece normalizes
    and drops the rarest characters, so some pieces differ)."""
    _, reference = sentencepiece_botchan()
    theirs = {reference.id_to_piece(i) for i in range(reference.get_piece_size())}
    ours = {piece for piece, _ in trained.pieces[4 + 256:]}
    assert len(ours) == 1000 and len(ours & theirs) > 800
    lines = [" ".join(line.split()) for line in botchan().splitlines() if line.strip()]
    ratio = sum(len(trained.encode(line)) for line in lines) / sum(len(reference.encode(line)) for line in lines)
    assert 0.95 < ratio < 1.05


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_decode_inverts_encode_on_any_unicode(trained, text):
    assume(SPACE not in text)  # "▁" itself reads back as a space, as in SentencePiece
    assert trained.decode(trained.encode(text)) == text


def test_byte_fallback_and_special_tokens(trained):
    ids = trained.encode("snowman ☃ and 😀")
    assert [trained.id_to_token(i) for i in ids[-4:]] == ["<0xF0>", "<0x9F>", "<0x98>", "<0x80>"]
    assert trained.decode(ids) == "snowman ☃ and 😀"
    text = "one<|endoftext|>two <s>"
    ids = trained.encode(text, allowed_special="all")
    assert trained.eot_id in ids and trained.token_id("<s>") == ids[-1]
    assert trained.decode(ids) == text
    for text in HARD_STRINGS:
        assert trained.decode(trained.encode(text)) == text


def test_save_and_load_keep_every_id(trained, tmp_path):
    trained.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.pieces == trained.pieces and loaded.byte_fallback
    for text in HARD_STRINGS:
        assert loaded.encode(text) == trained.encode(text)


def test_digamma():
    assert digamma(1.0) == pytest.approx(-0.5772156649, abs=1e-8)  # minus Euler's constant
    assert digamma(0.5) == pytest.approx(-1.9635100260, abs=1e-8)
    for x in (0.7, 3.0, 50.0):
        assert digamma(x + 1) - digamma(x) == pytest.approx(1 / x)


def test_a_vocab_size_without_room_for_pieces_is_a_user_error():
    with pytest.raises(UserError, match="above 260"):
        UnigramTokenizer().train(["abc"], vocab_size=200)


def test_the_lattice_never_crosses_a_word_start_so_words_are_encoded_alone(trained):
    assert all(SPACE not in piece[1:] for piece, _ in trained.pieces)
    text = "the cat and the hat"
    whole = lattice.viterbi(trained._lattice(SPACE + text.replace(" ", SPACE)), trained._scores)
    assert [trained.pieces[i][0] for _, _, i in whole] == [trained.id_to_token(i) for i in trained.encode(text)]


def hello_tokenizer(**attributes):
    """The module docstring's hand-made Unigram model (10 pieces over "hello")."""
    tokenizer = UnigramTokenizer(seed=0)
    tokenizer.pieces = [("<unk>", 0.0), (SPACE, -2.0), (SPACE + "h", -3.0), ("e", -2.0), (SPACE + "he", -4.0),
                        ("l", -2.0), ("lo", -2.5), ("o", -2.0), ("llo", -2.0), ("h", -2.0)]
    tokenizer.special_tokens = {"<unk>": 0}
    tokenizer._index()
    for name, value in attributes.items():
        setattr(tokenizer, name, value)
    return tokenizer


def hand_segmentations(pieces: dict, text: str):
    """Every cut of `text` into `pieces` (brute force) with its total score."""
    if not text:
        return [((), 0.0)]
    return [((text[:end],) + rest, pieces[text[:end]] + score) for end in range(1, len(text) + 1)
            if text[:end] in pieces for rest, score in hand_segmentations(pieces, text[end:])]


def test_sample_alpha_makes_encode_draw_segmentations_with_the_path_probabilities():
    alpha, draws = 0.5, 4000
    tokenizer = hello_tokenizer(sample_alpha=alpha)
    pieces = {piece: score for piece, score in tokenizer.pieces[1:]}
    segmentations = hand_segmentations(pieces, SPACE + "hello")
    assert len(segmentations) == 9  # ▁·h·e, ▁h·e, ▁he times l·l·o, l·lo, llo
    z = sum(math.exp(alpha * score) for _, score in segmentations)
    drawn = Counter(tuple(tokenizer.id_to_token(i) for i in tokenizer.encode("hello")) for _ in range(draws))
    assert set(drawn) <= {pieces_ for pieces_, _ in segmentations}
    for cut, score in segmentations:
        assert drawn[cut] / draws == pytest.approx(math.exp(alpha * score) / z, abs=0.03)
    two_words = {tuple(tokenizer.encode("hello hello")) for _ in range(200)}
    assert all(tokenizer.decode(ids) == "hello hello" for ids in two_words) and len(two_words) > 10


def test_sample_alpha_to_infinity_is_viterbi_and_zero_is_off():
    plain, sharp = hello_tokenizer(), hello_tokenizer(sample_alpha=1e4)
    for text in ["hello", "hello hell oh", "ohello"]:
        assert all(sharp.encode(text) == plain.encode(text) for _ in range(20))
    assert "sample_alpha" not in json.dumps(hello_tokenizer(sample_alpha=0.3).to_dict())  # never saved
