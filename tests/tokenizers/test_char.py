"""Character tokenizer (lmlab/tokenizers/char.py): alphabet, unknowns, special tokens, files."""

import pytest

from lmlab.errors import UserError
from lmlab.tokenizers import END_OF_TEXT, CharTokenizer, load_tokenizer


def test_each_character_seen_in_training_gets_an_id_in_sorted_order():
    tokenizer = CharTokenizer().train(["hello", "world"])
    assert tokenizer.special_tokens == {END_OF_TEXT: 0, "<unk>": 1}
    assert tokenizer.char_to_id == {c: i for i, c in enumerate("dehlorw", start=2)}
    assert tokenizer.encode("hello") == [4, 3, 5, 5, 6]
    assert tokenizer.decode(tokenizer.encode("hello world")) == "hello<unk>world"  # " " was never seen
    assert tokenizer.vocab_size == 9 and tokenizer.eot_id == 0


def test_a_vocab_size_keeps_the_most_frequent_characters():
    tokenizer = CharTokenizer().train(["aaabbc"], vocab_size=4)
    assert sorted(tokenizer.char_to_id) == ["a", "b"]
    assert tokenizer.decode(tokenizer.encode("abc")) == "ab<unk>"


def test_special_tokens_are_text_unless_allowed():
    tokenizer = CharTokenizer().train(["<|endoftext|> plain text"])
    assert len(tokenizer.encode("x<|endoftext|>")) == 14
    assert tokenizer.encode("x<|endoftext|>", allowed_special="all") == [tokenizer.encode("x")[0], 0]
    with pytest.raises(UserError, match="no special token"):
        tokenizer.token_id("[CLS]")


def test_save_and_load_round_trip(tmp_path):
    tokenizer = CharTokenizer().train(["Zürich 😀\n\ttabs"])
    tokenizer.save(tmp_path / "tokenizer.json")
    loaded = load_tokenizer(tmp_path / "tokenizer.json")
    assert isinstance(loaded, CharTokenizer)
    assert (loaded.char_to_id, loaded.special_tokens) == (tokenizer.char_to_id, tokenizer.special_tokens)
    assert loaded.decode(loaded.encode("Zürich 😀")) == "Zürich 😀"
