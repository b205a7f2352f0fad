"""Word tokenizer (lmlab/tokenizers/word.py): the split, the vocabulary by frequency, unknowns."""

from lmlab.tokenizers import WordTokenizer, load_tokenizer
from lmlab.tokenizers.word import WORD_PATTERN


def test_words_and_runs_of_punctuation():
    assert WORD_PATTERN.findall("Don't stop... 42 times! naïve_x") == \
        ["Don", "'", "t", "stop", "...", "42", "times", "!", "naïve_x"]


def test_the_vocabulary_is_ordered_by_frequency_then_alphabet():
    tokenizer = WordTokenizer().train(["b a c b a b d"], vocab_size=5)
    assert tokenizer.word_to_id == {"b": 2, "a": 3, "c": 4}  # c and d tie at 1: c comes first
    assert tokenizer.decode(tokenizer.encode("a d b")) == "a <unk> b"


def test_min_freq_drops_rare_words():
    tokenizer = WordTokenizer().train(["the cat and the dog and the bird"], min_freq=2)
    assert sorted(tokenizer.word_to_id) == ["and", "the"]
    assert tokenizer.vocab_size == 4


def test_default_vocab_size_and_round_trip_through_the_file(tmp_path):
    text = " ".join(f"w{i} " * (i % 5 + 1) for i in range(12_000))
    tokenizer = WordTokenizer().train([text])
    assert tokenizer.vocab_size == 10_000
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert loaded.word_to_id == tokenizer.word_to_id
    assert loaded.encode("w1 w11999 zzz") == tokenizer.encode("w1 w11999 zzz")
