"""Byte-level BPE (lmlab/tokenizers/bpe.py): the textbook example, the incremental trainer against a
naive recount and against Hugging Face's trainer, GPT-2 ids against tiktoken, special tokens,
dropout and the lossless round trip."""

import json
import random
from collections import Counter

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_references import HARD_STRINGS, botchan, gpt2, require, tiktoken_encoding, tiny_shakespeare

from lmlab.errors import UserError
from lmlab.tokenizers import BPETokenizer, load_tokenizer
from lmlab.tokenizers.bpe import BYTE_ORDER, GPT2_CJK_PATTERN, GPT2_PATTERN, GPT4_PATTERN, to_symbols


def merged_bytes(tokenizer):
    return [(tokenizer.vocab[a], tokenizer.vocab[b]) for a, b in tokenizer.merges]


def test_the_textbook_example_merges_aa_then_ab_then_aaab():
    """Wikipedia: aaabdaaabac -> Z=aa -> Y=ab (tied with Za; the smaller pair wins) -> X=ZY."""
    tokenizer = BPETokenizer().train(["aaabdaaabac"], vocab_size=256 + 3 + 1)
    assert merged_bytes(tokenizer) == [(b"a", b"a"), (b"a", b"b"), (b"aa", b"ab")]
    ids = tokenizer.encode("aaabdaaabac")
    assert [tokenizer.id_to_token(i) for i in ids] == ["aaab", "d", "aaab", "a", "c"]
    assert ids == [258, BYTE_ORDER.index(ord("d")), 258, 64, 66]  # "a" is GPT-2's id 64
    assert tokenizer.special_tokens == {"<|endoftext|>": 259} and tokenizer.vocab_size == 260


def naive_merges(texts, vocab_size):
    """minbpe's algorithm: recount every pair after every merge; the same tie-break (smaller pair)."""
    frequency = Counter(piece for text in texts for piece in regex.findall(GPT2_PATTERN, text))
    ids = {bytes([b]): i for i, b in enumerate(BYTE_ORDER)}
    tokens = {i: token for token, i in ids.items()}
    words = {piece: [ids[bytes([b])] for b in piece.encode("utf-8")] for piece in frequency}
    merges = []
    while len(tokens) < vocab_size - 1:
        counts = Counter()
        for piece, word in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] += frequency[piece]
        if not counts:
            break
        pair = min(counts, key=lambda p: (-counts[p], p))
        token = tokens[pair[0]] + tokens[pair[1]]
        if token not in ids:
            ids[token] = len(tokens)
            tokens[ids[token]] = token
        merges.append((tokens[pair[0]], tokens[pair[1]]))
        for piece, word in words.items():
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
                    merged.append(ids[token])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            words[piece] = merged
    return merges


@settings(max_examples=150, deadline=None)
@given(texts=st.lists(st.text(alphabet="ab cé\n", max_size=40), max_size=4), extra=st.integers(0, 40))
def test_incremental_training_learns_the_merges_of_a_naive_recount(texts, extra):
    vocab_size = 257 + extra
    assert merged_bytes(BPETokenizer().train(texts, vocab_size=vocab_size)) == naive_merges(texts, vocab_size)


@pytest.mark.parametrize("vocab_size", [1000, 3000])
def test_training_learns_exactly_the_merges_of_hugging_face_bpe_trainer(vocab_size):
    tokenizers = require("tokenizers")
    text = tiny_shakespeare()
    reference = tokenizers.Tokenizer(tokenizers.models.BPE())
    reference.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
                                             show_progress=False)
    reference.train_from_iterator([text], trainer=trainer)
    hf_merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
                 for m in json.loads(reference.to_str())["model"]["merges"]]
    ours = BPETokenizer().train([text], vocab_size=vocab_size)
    assert [(to_symbols(a), to_symbols(b)) for a, b in merged_bytes(ours)] == hf_merges
    assert ours.vocab_size == vocab_size


def test_gpt2_from_its_own_files():
    tokenizer = gpt2()
    assert tokenizer.encode("Hello world") == [15496, 995]
    assert tokenizer.vocab_size == 50257 and tokenizer.eot_id == 50256 and len(tokenizer.merges) == 50000


@pytest.mark.parametrize("corpus", [tiny_shakespeare, botchan])
def test_gpt2_ids_equal_tiktoken_on_whole_books(corpus):
    text = corpus()
    ids = gpt2().encode(text)
    assert ids == tiktoken_encoding().encode_ordinary(text)
    assert gpt2().decode(ids) == text


def test_gpt2_ids_equal_tiktoken_on_hard_strings():
    for text in HARD_STRINGS:
        assert gpt2().encode(text) == tiktoken_encoding().encode_ordinary(text), text


def gpt2_variant(pattern: str = "gpt2") -> BPETokenizer:
    """GPT-2's vocabulary and merges behind another pre-tokenizer pattern."""
    tokenizer = BPETokenizer(pattern=pattern)
    tokenizer.special_tokens = dict(gpt2().special_tokens)
    tokenizer.model_from_dict(gpt2().model_to_dict())
    return tokenizer


def test_gpt4_pattern_equals_tiktoken_with_that_pattern():
    tokenizer, reference = gpt2_variant("gpt4"), tiktoken_encoding(GPT4_PATTERN)
    for text in HARD_STRINGS + tiny_shakespeare().splitlines()[:2000]:
        assert tokenizer.encode(text) == reference.encode_ordinary(text), text


CJK_SAMPLES = ["中共中央总书记、国家主席江泽民发表１９９８年新年讲话", "日本語のテキスト データ said: Hello 한국어 2024年"]


def test_gpt2_cjk_pattern_cuts_cjk_characters_alone_and_the_rest_as_gpt2():
    assert regex.findall(GPT2_CJK_PATTERN, CJK_SAMPLES[1]) == [
        "日", "本", "語", "の", "テ", "キ", "ス", "ト", " デ", "ー", "タ", " said", ":", " Hello", " 한국어", " 2024", "年"]
    for text in HARD_STRINGS + tiny_shakespeare().splitlines()[:2000]:  # no CJK: GPT-2's pieces exactly
        if not regex.search(r"[\p{Han}\p{Hiragana}\p{Katakana}]", text):
            assert regex.findall(GPT2_CJK_PATTERN, text) == regex.findall(GPT2_PATTERN, text), text


def test_gpt2_cjk_pattern_equals_tiktoken_with_that_pattern():
    tokenizer, reference = gpt2_variant("gpt2-cjk"), tiktoken_encoding(GPT2_CJK_PATTERN)
    for text in HARD_STRINGS + CJK_SAMPLES:
        assert tokenizer.encode(text) == reference.encode_ordinary(text), text


def test_bpe_trained_behind_gpt2_cjk_never_joins_two_cjk_characters():
    text = "中共中央总书记、国家主席江泽民。中国人民。中央电视台和中央人民广播电台。" * 20 + " the theme there"
    tokenizer = BPETokenizer().train([text], vocab_size=400, pattern="gpt2-cjk")
    pieces = [tokenizer.id_to_token(i) for i in tokenizer.encode(text)]
    assert "中" in pieces and " the" in pieces
    assert all(len(regex.findall(r"[\p{Han}]", piece)) <= 1 for piece in pieces)
    glued = BPETokenizer().train([text], vocab_size=400)  # GPT-2's pattern: a clause is one pre-token
    assert any(len(token) > 1 and regex.fullmatch(r"\p{Han}+", token)
               for token in map(glued.id_to_token, glued.encode(text)))


def test_special_tokens_are_text_unless_allowed_and_never_split():
    tokenizer = gpt2()
    text = "a<|endoftext|>b"
    assert tokenizer.encode(text) == tiktoken_encoding().encode_ordinary(text)
    assert tokenizer.eot_id not in tokenizer.encode(text)
    allowed = tokenizer.encode(text, allowed_special="all")
    assert allowed == tiktoken_encoding().encode(text, allowed_special="all")
    assert allowed == [tokenizer.encode("a")[0], 50256, tokenizer.encode("b")[0]]
    assert tokenizer.encode(text, allowed_special={"<|endoftext|>"}) == allowed
    assert tokenizer.decode(allowed) == text
    with pytest.raises(UserError, match="not special tokens"):
        tokenizer.encode(text, allowed_special={"<|im_start|>"})


def test_encode_batch_and_the_cache_give_the_same_ids():
    tokenizer = BPETokenizer().train(["the cat sat on the mat"] * 3, vocab_size=280)
    first = tokenizer.encode("the cat sat")
    assert " cat" in tokenizer._cache
    assert tokenizer.encode("the cat sat") == first
    assert tokenizer.encode_batch(["the cat sat", "", "mat"]) == [first, [], tokenizer.encode("mat")]


@settings(max_examples=200, deadline=None)
@given(text=st.text())
def test_decode_inverts_encode_on_any_unicode(text):
    small = BPETokenizer().train(["Hello wörld! 你好 😀 hello world"], vocab_size=300)
    assert small.decode(small.encode(text)) == text
    assert gpt2().decode(gpt2().encode(text)) == text


def test_dropout_samples_several_segmentations_that_all_decode_back():
    plain = gpt2()
    noisy = gpt2_variant()
    noisy.dropout, noisy.rng = 0.3, random.Random(0)
    text = "Tokenization is unbelievably interesting"
    samples = {tuple(noisy.encode(text)) for _ in range(50)}
    assert len(samples) > 5
    assert all(noisy.decode(sample) == text for sample in samples)
    assert all(len(sample) >= len(plain.encode(text)) for sample in samples)  # dropout only splits further
    noisy.dropout = 1.0  # every merge dropped: bytes
    assert len(noisy.encode(text)) == len(text.encode("utf-8"))
    noisy.dropout = 0.0
    assert noisy.encode(text) == plain.encode(text)


def test_a_cut_character_decodes_as_the_replacement_character():
    ids = gpt2().encode("😀")
    assert len(ids) > 1 and gpt2().decode(ids[:1]) == "\ufffd"


def test_save_and_load_keep_every_id(tmp_path):
    tokenizer = BPETokenizer().train(["Hello wörld! 你好 😀 hello world " * 5], vocab_size=300, pattern="gpt4")
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert (loaded.pattern, loaded.merges, loaded.special_tokens) == (GPT4_PATTERN, tokenizer.merges,
                                                                      tokenizer.special_tokens)
    for text in HARD_STRINGS:
        assert loaded.encode(text) == tokenizer.encode(text)


def test_a_vocab_size_below_the_bytes_is_a_user_error():
    with pytest.raises(UserError, match="at least 257"):
        BPETokenizer().train(["abc"], vocab_size=100)
