"""How the word-level classifier families start a run (their `start` in `classifier_families`).

Each start takes (family record, run config, init, training examples, n_labels) and returns (model,
tokenizer, where its numbers came from): a word tokenizer trained on the lowercased training
sentences, then

    lexicon      the lexicon (VADER, fetched once; a VADER/AFINN file; or induced from the labels) as tensors
    perceptron,  the bigram table counted on the training sentences; weights at zero
    bow
    textcnn,     random word vectors, or an `lmlab word2vec` run's (--init RUN)
    bilstm
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import torch

from lmlab.data.classification import encode_words
from lmlab.data.pretrained import vader_lexicon
from lmlab.errors import UserError
from lmlab.models.bow import count_bigrams
from lmlab.models.lexicon import BOOSTERS, CONTRASTS, NEGATIONS, induce_lexicon, read_lexicon
from lmlab.embeddings.vectors import load_vectors
from lmlab.tokenizers import TOKENIZERS
from lmlab.tokenizers.word import WordTokenizer


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def word_tokenizer(config, texts: list[str], extra_words=()):
    """lmlab's word tokenizer on the lowercased training sentences (plus `extra_words`, e.g. a
    lexicon's); with ``--set tokenizer=bpe|unigram`` those pieces instead."""
    name = config.data.tokenizer
    say(f"training a {name} tokenizer (up to {config.data.vocab_size:,} entries) on the training sentences")
    algorithm = WordTokenizer if name == "word" else TOKENIZERS[name]
    return algorithm().train([t.lower() for t in texts] + list(extra_words), vocab_size=config.data.vocab_size)


def start_lexicon(family, config, init: str, train_examples: list, n_labels: int):
    model_config = copy.deepcopy(config.model)
    choice = model_config.lexicon
    if choice in ("auto", "vader"):
        choice = lexicon_file(choice)
    if choice == "induce":
        from lmlab.evaluate.errors import words

        lexicon = induce_lexicon([words(e.text) for e in train_examples], [e.label for e in train_examples],
                                 model_config.min_count)
        source = "induced from the training sentences (smoothed log-odds)"
    else:
        lexicon, source = read_lexicon(choice), str(Path(choice).expanduser())
    rule_words = [*NEGATIONS, *BOOSTERS, *CONTRASTS]
    tokenizer = word_tokenizer(config, [e.text for e in train_examples], [*lexicon, *rule_words])
    model_config.vocab_size, model_config.n_labels, model_config.lexicon = tokenizer.vocab_size, n_labels, choice
    model = family.model_class(model_config)
    found = model.set_lexicon(lexicon, tokenizer.word_to_id)
    say(f"lexicon: {found:,} scored words, {source}")
    return model, tokenizer, source


def lexicon_file(choice: str) -> str:
    """`--set lexicon=vader`: VADER's file, fetched once into the cache; `auto`: the same, or "induce"
    when it cannot be fetched (offline), saying so."""
    try:
        return str(vader_lexicon())
    except UserError as error:
        if choice == "vader":
            raise
        say(f"{error}\nlexicon=auto: inducing a lexicon from the training sentences instead")
        return "induce"


def start_bow(family, config, init: str, train_examples: list, n_labels: int):
    """perceptron / bow: the bigram table counted on the training sentences; weights at zero."""
    tokenizer = word_tokenizer(config, [e.text for e in train_examples])
    model_config = copy.deepcopy(config.model)
    model_config.vocab_size, model_config.n_labels = tokenizer.vocab_size, n_labels
    keys = torch.zeros(0, dtype=torch.long)
    if model_config.bigrams:
        rows = encode_words(tokenizer, train_examples, config.data.max_length)
        keys = count_bigrams([ids for ids, _, _ in rows], tokenizer.vocab_size, model_config.min_count)
    model_config.n_bigrams = len(keys)
    model = family.model_class(model_config)
    model.bigram_keys.copy_(keys)
    say(f"{family.name}: {tokenizer.vocab_size:,} words + {len(keys):,} bigrams as features, {model_config.algorithm}")
    return model, tokenizer, "zeros"


def start_neural(family, config, init: str, train_examples: list, n_labels: int):
    """TextCNN / BiLSTM: a word tokenizer, and the word vectors random or from word2vec (--init)."""
    tokenizer = word_tokenizer(config, [e.text for e in train_examples])
    model_config = copy.deepcopy(config.model)
    model_config.vocab_size, model_config.n_labels = tokenizer.vocab_size, n_labels
    vectors = None
    if init not in ("random", "scratch"):
        vectors = word_vectors(init)
        model_config.n_embd = vectors.vectors.shape[1]
    model = family.model_class(model_config)
    if vectors is None:
        return model, tokenizer, "random"
    index = {word: i for i, word in enumerate(vectors.words)}
    table, copied = model.embedding.weight.data, 0
    scale = vectors.vectors.float().std().item()
    table.normal_(0.0, scale)  # words without a vector: random, at the vectors' scale (Kim: U[-a, a])
    for word, i in tokenizer.word_to_id.items():
        if word in index:
            table[i] = vectors.vectors[index[word]].float()
            copied += 1
    say(f"{family.name}: {copied:,} of {tokenizer.vocab_size:,} words start from the word2vec vectors in {init}")
    return model, tokenizer, f"{init} ({copied} of {tokenizer.vocab_size} words)"


def word_vectors(init: str):
    """--init: an `lmlab word2vec` run folder or a word2vec text file."""
    return load_vectors(Path(init).expanduser(), "lmlab classify train --init")
