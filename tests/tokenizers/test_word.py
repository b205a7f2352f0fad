"""Word tokenizer (lmlab/tokenizers/word.py): the split (CJK characters alone), the vocabulary by
frequency, unknowns, Hugging Face's Whitespace files."""

from conftest import shared_data
from tokenizer_references import require

from lmlab.tokenizers import WordTokenizer, load_tokenizer
from lmlab.tokenizers.word import WHITESPACE_PATTERN, WORD_PATTERN


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


def test_cjk_characters_are_words_of_their_own():
    text = "中共中央总书记、国家主席江泽民发表１９９８年新年讲话 and 日本語のテキスト"
    assert WORD_PATTERN.findall(text)[:9] == ["中", "共", "中", "央", "总", "书", "记", "、", "国"]
    assert "１９９８" in WORD_PATTERN.findall(text) and "and" in WORD_PATTERN.findall(text)
    tokenizer = WordTokenizer().train([text * 3])
    assert tokenizer.decode(tokenizer.encode("中央讲话")) == "中 央 讲 话"


def test_without_cjk_the_cut_is_hugging_faces_whitespace_pattern():
    text = shared_data("tinyshakespeare/input.txt").read_text(encoding="utf-8")[:200_000] + " naïve_x 3.14 ΟΔΟΣ한국어"
    assert WORD_PATTERN.findall(text) == WHITESPACE_PATTERN.findall(text)


def test_a_whitespace_file_keeps_its_pattern_and_a_new_one_cuts_cjk(tmp_path):
    tokenizers = require("tokenizers")
    theirs = tokenizers.Tokenizer(tokenizers.models.WordLevel({"<unk>": 0, "中央": 1, "中": 2}, unk_token="<unk>"))
    theirs.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    theirs.add_special_tokens(["<unk>"])
    theirs.save(str(tmp_path / "hf.json"))
    ours = load_tokenizer(tmp_path / "hf.json")
    assert ours.pattern == WHITESPACE_PATTERN and ours.encode("中央 中") == theirs.encode("中央 中").ids == [1, 2]
    trained = WordTokenizer().train(["中央 中"])
    trained.save(tmp_path / "tokenizer.json")
    assert load_tokenizer(tmp_path / "tokenizer.json").pattern == WORD_PATTERN
