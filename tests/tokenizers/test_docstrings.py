"""The worked examples in the tokenizer modules' docstrings run and give what they show."""

import doctest
import importlib

import pytest

MODULES = ["base", "bert_normalizer", "bpe", "char", "hf_json", "lattice", "pair_counts", "sampling", "unigram",
           "unigram_train", "unigram_trie", "word", "wordpiece", "segmentation", "sentencepiece_model",
           "sentencepiece_normalizer"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"lmlab.tokenizers.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
