"""The worked examples in the embeddings modules' docstrings run and give what they show."""

import doctest
import importlib

import pytest

MODULES = ["vocab", "onehot", "huffman", "word2vec", "word2vec_examples", "vectors", "evaluate"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"lmlab.embeddings.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
