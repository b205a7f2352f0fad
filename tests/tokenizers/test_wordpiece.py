"""WordPiece (lmlab/tokenizers/wordpiece.py, bert_normalizer.py): BERT's ids with bert-base-uncased's
vocab.txt against Hugging Face's BertTokenizerFast, greedy longest-match-first by hand, and the
trainer (both merge rules) against a naive recomputation, hand-checked examples and, for the
frequency rule, Hugging Face's WordPieceTrainer."""

from collections import Counter

import pytest
from conftest import shared_data
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizer_references import HARD_STRINGS, bert_files, require

from lmlab.errors import UserError
from lmlab.tokenizers import WordPieceTokenizer, load_tokenizer
from lmlab.tokenizers.bert_normalizer import BertNormalizer


def tiny(tokens: list[str]) -> WordPieceTokenizer:
    tokenizer = WordPieceTokenizer()
    tokenizer.model_from_dict({"type": "WordPiece", "unk_token": "[UNK]", "vocab": {t: i for i, t in enumerate(tokens)}})
    return tokenizer


def pieces(tokenizer, text):
    return [tokenizer.id_to_token(i) for i in tokenizer.encode(text)]


def test_greedy_longest_match_first_with_continuations():
    tokenizer = tiny(["[UNK]", "un", "##aff", "##able", "aff", "##a", "a", "##ff", "##b"])
    assert pieces(tokenizer, "unaffable") == ["un", "##aff", "##able"]  # not un ##a ##ff ##able
    assert pieces(tokenizer, "affab") == ["aff", "##a", "##b"]
    assert pieces(tokenizer, "unx affable") == ["[UNK]", "aff", "##able"]  # uncoverable: the whole word
    assert pieces(tokenizer, "a" * 100) == ["a"] + ["##a"] * 99
    assert pieces(tokenizer, "a" * 101) == ["[UNK]"]  # longer than 100 characters
    assert tokenizer.decode(tokenizer.encode("Unaffable, AFFAB!")) == "unaffable [UNK] affab [UNK]"


def test_the_basic_tokenizer_options():
    assert BertNormalizer().split("Héllo,  WORLD!\x00\u200b 你好") == ["hello", ",", "world", "!", "你", "好"]
    assert BertNormalizer(lowercase=False).split("Héllo WORLD") == ["Héllo", "WORLD"]
    assert BertNormalizer(lowercase=True, strip_accents=False).split("Héllo") == ["héllo"]
    assert BertNormalizer(lowercase=False, strip_accents=True).split("Héllo") == ["Hello"]
    assert BertNormalizer().split("ΟΔΟΣ") == ["οδοσ"]  # BERT lower-cases each sigma alone


def bert_pair():
    transformers = require("transformers")
    folder = bert_files()
    return WordPieceTokenizer.from_vocab_file(folder / "vocab.txt"), transformers.BertTokenizerFast.from_pretrained(folder)


def sst2_sentences() -> list[str]:
    sentences = []
    for name in ("train.tsv", "dev.tsv"):
        lines = shared_data(f"sst2/{name}").read_text(encoding="utf-8").splitlines()[1:]
        sentences += [line.split("\t")[0] for line in lines]
    return sentences


def test_bert_ids_equal_bert_tokenizer_fast_on_sst2_and_hard_strings():
    ours, reference = bert_pair()
    texts = sst2_sentences() + HARD_STRINGS
    assert len(texts) > 68_000
    expected = reference(texts, add_special_tokens=False)["input_ids"]
    for text, ids in zip(texts, expected):
        assert ours.encode(text) == ids, text


def test_bert_pairs_and_special_tokens_equal_bert_tokenizer_fast():
    ours, reference = bert_pair()
    expected = reference("The movie was great.", "I loved it!")
    assert ours.encode_pair("The movie was great.", "I loved it!") == (expected["input_ids"], expected["token_type_ids"])
    assert ours.encode_pair("one sentence")[0] == reference("one sentence")["input_ids"]
    text = "a [MASK] here [SEP]"
    assert ours.encode(text, allowed_special="all") == reference(text, add_special_tokens=False)["input_ids"]
    assert ours.token_id("[MASK]") not in ours.encode(text)  # by default, "[MASK]" is just text


def test_the_wheels_hugging_face_tokenizer_json_reads_as_the_same_wordpiece():
    ours, _ = bert_pair()
    loaded = load_tokenizer(bert_files() / "tokenizer.json")
    assert isinstance(loaded, WordPieceTokenizer) and loaded.vocab == ours.vocab
    for text in HARD_STRINGS:
        assert loaded.encode(text) == ours.encode(text)


COURSE_WORDS = ["hug"] * 10 + ["pug"] * 5 + ["pun"] * 12 + ["bun"] * 4 + ["hugs"] * 5
SPECIALS_AND_ALPHABET = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>",
                         "##g", "##n", "##s", "##u", "b", "h", "p"]


def test_the_score_rule_merges_by_score_not_frequency():
    """Characters: h 15, p 17, b 4, ##u 36, ##g 20, ##n 16, ##s 5. Every pair scores 1/36
    except ##g ##s: 5 / (20 * 5) = 1/20, merged first although ##u ##g is the most frequent.
    Then all pairs tie at 1/36 and the smallest ids win: ##u (id 9) with ##g (id 6)."""
    tokenizer = WordPieceTokenizer().train([" ".join(COURSE_WORDS)], vocab_size=6 + 7 + 2, merge_rule="score")
    assert list(tokenizer.vocab) == SPECIALS_AND_ALPHABET + ["##gs", "##ug"]
    assert pieces(tokenizer, "hugs bun") == ["h", "##ug", "##s", "b", "##u", "##n"]


def test_the_frequency_rule_merges_the_most_frequent_pair():
    """Pairs: ##u ##g 20 (hug, pug, hugs), p ##u 17, ##u ##n 16, h ##u 15: ##ug first. Then
    ##u ##n 16 beats h ##ug 15 and p ##u 12: ##un."""
    tokenizer = WordPieceTokenizer().train([" ".join(COURSE_WORDS)], vocab_size=6 + 7 + 2)
    assert list(tokenizer.vocab) == SPECIALS_AND_ALPHABET + ["##ug", "##un"]
    assert pieces(tokenizer, "hugs bun") == ["h", "##ug", "##s", "b", "##un"]


def test_an_unknown_merge_rule_is_a_user_error():
    with pytest.raises(UserError, match="merge_rule"):
        WordPieceTokenizer().train(["abc"], vocab_size=20, merge_rule="likelihood")


def naive_vocabulary(texts, vocab_size, merge_rule="frequency"):
    """Recompute every pair's count (and score) after every merge; the best wins, ties to the smaller ids."""
    words = Counter(w for text in texts for w in BertNormalizer().split(text))
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>"]
    tokens += sorted({w[0] for w in words} | {"##" + c for w in words for c in w[1:]})
    ids = {t: i for i, t in enumerate(tokens)}
    split = {w: [ids[w[0]]] + [ids["##" + c] for c in w[1:]] for w in words}
    while len(tokens) < vocab_size:
        pairs, symbols = Counter(), Counter()
        for word, symbols_of_word in split.items():
            for symbol in symbols_of_word:
                symbols[symbol] += words[word]
            for pair in zip(symbols_of_word, symbols_of_word[1:]):
                pairs[pair] += words[word]
        if not pairs:
            break
        if merge_rule == "frequency":
            best = min(pairs, key=lambda p: (-pairs[p], p))
        else:
            best = min(pairs, key=lambda p: (-pairs[p] / (symbols[p[0]] * symbols[p[1]]), p))
        token = tokens[best[0]] + tokens[best[1]][2:]
        if token not in ids:
            ids[token] = len(tokens)
            tokens.append(token)
        for word, old in split.items():
            new, i = [], 0
            while i < len(old):
                if i + 1 < len(old) and (old[i], old[i + 1]) == best:
                    new.append(ids[token])
                    i += 2
                else:
                    new.append(old[i])
                    i += 1
            split[word] = new
    return tokens


@pytest.mark.parametrize("merge_rule", ["frequency", "score"])
@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.text(alphabet="abcd é,", max_size=40), max_size=4), extra=st.integers(0, 30))
def test_incremental_training_learns_the_vocabulary_of_a_naive_recomputation(merge_rule, texts, extra):
    alphabet = naive_vocabulary(texts, vocab_size=0)  # special tokens and characters: no merge yet
    expected = naive_vocabulary(texts, len(alphabet) + extra, merge_rule)
    trained = WordPieceTokenizer().train(texts, vocab_size=len(expected), merge_rule=merge_rule)
    assert list(trained.vocab) == expected


def test_training_on_sst2_gives_a_usable_vocabulary():
    sentences = sst2_sentences()[:5000]
    tokenizer = WordPieceTokenizer().train(sentences, vocab_size=2000)
    assert tokenizer.vocab_size == 2000
    ids = tokenizer.encode("a gorgeous , witty , seductive movie .")
    assert tokenizer.token_id("[UNK]") not in ids
    assert tokenizer.decode(ids) == "a gorgeous , witty , seductive movie ."


def test_the_frequency_rule_learns_hugging_faces_wordpiece_trainer_vocabulary_on_sst2():
    """Hugging Face's WordPieceTrainer merges by frequency too. On SST-2 the two vocabularies
    differ only where equally frequent pairs tie (measured: 5 of 8,000 entries on the whole
    training set); the frequent words are whole tokens in both, and the score rule leaves them
    in pieces: its count(ab) / (count(a) count(b)) favours pairs of rare parts."""
    hf = require("tokenizers")
    sentences = sst2_sentences()[:20000]
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "<|endoftext|>"]
    reference = hf.Tokenizer(hf.models.WordPiece(unk_token="[UNK]"))
    reference.normalizer = hf.normalizers.BertNormalizer(lowercase=True)
    reference.pre_tokenizer = hf.pre_tokenizers.BertPreTokenizer()
    reference.train_from_iterator(sentences, hf.trainers.WordPieceTrainer(
        vocab_size=3000, special_tokens=specials, min_frequency=0, limit_alphabet=100_000, show_progress=False))
    ours = WordPieceTokenizer().train(sentences, vocab_size=3000)
    shared = set(ours.vocab) & set(reference.get_vocab())
    assert len(shared) >= 0.99 * 3000, sorted(set(ours.vocab) - shared)[:20]
    by_score = WordPieceTokenizer().train(sentences, vocab_size=3000, merge_rule="score")
    for word in ("the", "film", "bad"):
        assert word in ours.vocab and word not in by_score.vocab


def test_a_vocab_size_below_the_alphabet_is_a_user_error():
    with pytest.raises(UserError, match="at least"):
        WordPieceTokenizer().train(["abcdefghij"], vocab_size=8)
