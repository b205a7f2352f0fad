"""The options of the commands on words, tokens and corpora: `word2vec`, `tokenizer`, `corpus`.

The same convention as `lmlab.recipes.options` (field comments are the help); torch-free.
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, ClassVar, Literal, Optional

from lmlab.config import AT_LEAST_ONE, NON_NEGATIVE, flag, from_config, positional
from lmlab.recipes.options import TrainingOptions, options


# --- word2vec ---------------------------------------------------------------------------------------------
WORD2VEC = "lmlab.embeddings.word2vec:Word2VecConfig"


@options
class Word2VecTrainOptions(TrainingOptions):
    """Train word vectors on the lines of a corpus and write a run folder (config.json,
    vectors.safetensors, vocab.json, metrics.jsonl); prints the one-hot vs dense memory of the
    vocabulary table. Ctrl-C saves the vectors trained so far."""

    presets: ClassVar[str] = "lmlab.recipes.word2vec:PRESETS"
    default_preset: ClassVar[str] = "default"
    config_classes: ClassVar[dict] = {"": WORD2VEC}

    max_steps: Optional[Annotated[int, AT_LEAST_ONE]] = None  # stop after this many batches (default: every epoch to
    # the end)
    seed: Optional[int] = field(default=None, metadata=from_config("seed"))  # random seed
    arch: Optional[Literal["cbow", "skipgram"]] = field(default=None, metadata=from_config("arch"))  # skipgram
    # predicts the context from the word, cbow the word from its context
    dim: Optional[int] = field(default=None, metadata=from_config("dim"))  # vector size D
    window: Optional[int] = field(default=None, metadata=from_config("window"))  # largest distance to a context
    # word; the window used is drawn from 1..W per word
    negative: Optional[int] = field(default=None, metadata=from_config("negative"))  # noise words per example
    min_count: Optional[int] = field(default=None, metadata=from_config("min_count"))  # drop words seen fewer
    # times
    epochs: Optional[int] = field(default=None, metadata=from_config("epochs"))  # passes over the corpus
    threads: Optional[Annotated[int, AT_LEAST_ONE]] = field(default=None, metadata=from_config("workers"))  # CPU
    # threads applying
    # batches in parallel, lock-free like word2vec.c (same as --set workers=N)


@options
class VectorsOptions:
    run: str = field(metadata=positional())  # word2vec run folder or word2vec text file


@options
class SimilarOptions(VectorsOptions):
    """The nearest words by cosine similarity."""

    word: str = field(metadata=positional())  # the word to look up
    n: Annotated[int, AT_LEAST_ONE] = field(default=10, metadata=flag("-n"))  # how many neighbours
    json: bool = False  # print one JSON object


@options
class AnalogyOptions(VectorsOptions):
    """Answer the analogy A : B :: C : ? (e.g. man king woman -> queen), A, B and C excluded."""

    a: str = field(metadata=positional(metavar="A"))  # the first word of the known pair
    b: str = field(metadata=positional(metavar="B"))  # the second word of the known pair
    c: str = field(metadata=positional(metavar="C"))  # the word to complete
    method: Literal["add", "mul"] = "add"  # 3CosAdd or 3CosMul (Levy & Goldberg 2014)
    n: Annotated[int, AT_LEAST_ONE] = field(default=5, metadata=flag("-n"))  # how many answers
    json: bool = False  # print one JSON object


@options
class Word2VecEvalOptions(VectorsOptions):
    """Analogy accuracy and coverage per section of questions-words.txt (top --restrict-vocab words)
    and the Spearman correlation with WordSim-353."""

    analogies: Optional[str] = field(default=None, metadata=flag("--analogies", "FILE"))  # questions-words.txt
    wordsim: Optional[str] = field(default=None, metadata=flag("--wordsim", "FILE"))  # wordsim353.tsv
    # (w1<TAB>w2<TAB>score)
    method: Literal["add", "mul"] = "add"  # analogy objective: 3CosAdd or 3CosMul
    restrict_vocab: Annotated[int, AT_LEAST_ONE] = 300_000  # answer with and ask about the N most frequent words only
    json: bool = False  # print one JSON object


@options
class WordMapOptions(VectorsOptions):
    """A 2-D PCA map of some words (PNG)."""

    words: list[str] = field(metadata=positional(nargs="+", metavar="WORD"))  # the words to place
    out: str = field(metadata=flag("--out", "PNG"))  # image file to write
    force: bool = False  # replace --out if it exists


# --- tokenizers and corpora ----------------------------------------------------------------------------
@options
class TokenizerTrainOptions:
    """Train a tokenizer on the training split of --data and write it as tokenizer.json."""

    algo: Literal["char", "word", "bpe", "wordpiece", "unigram"] = "bpe"  # the algorithm
    vocab_size: Optional[Annotated[int, AT_LEAST_ONE]] = None  # entries in the vocabulary, special tokens included
    # (default: the algorithm's: 4096 for bpe, wordpiece and unigram, 10000 for word, every character for char)
    data: str = "shakespeare"  # a corpus name (see `lmlab corpus list`), a .txt, .jsonl, .csv or .tsv file (or
    # .gz of one), a folder of .txt files, or a folder saved by datasets
    out: str = "tokenizer.json"  # file to write
    force: bool = False  # replace --out if it exists (never a run's own tokenizer.json)
    overrides: list[str] = field(default_factory=list, metadata=flag("--set", "KEY=VALUE"))  # an option of the
    # algorithm, e.g. --set pattern=gpt4 or gpt2-cjk (bpe), --set min_freq=2 (word), --set lowercase=false
    # (wordpiece), --set normalization=nmt_nfkc (unigram); or
    # where --data's records keep their text: --set text_field=NAME (JSON Lines), text_column=NAME (CSV, TSV)


@options
class TokenizerFileOptions:
    tokenizer: str = field(metadata=positional(metavar="TOKENIZER"))  # a tokenizer.json file (lmlab's or
    # Hugging Face's) or a SentencePiece Unigram .model file


@options
class EncodeOptions(TokenizerFileOptions):
    """Text -> ids and tokens."""

    text: Optional[str] = field(default=None, metadata=positional(metavar="TEXT"))  # the text to encode
    file: Optional[str] = field(default=None, metadata=flag("--file", "PATH"))  # encode each line of this file
    # instead (newlines are not encoded)
    json: bool = False  # print one JSON object {"ids": [...], "tokens": [...]} per input
    allow_special: bool = False  # read special-token text such as <|endoftext|> as that token (default: as
    # ordinary characters)


@options
class DecodeOptions(TokenizerFileOptions):
    """Ids -> text."""

    ids: list[int] = field(metadata=positional(nargs="+", metavar="ID"))  # token ids


@options
class InspectOptions(TokenizerFileOptions):
    """Size, special tokens, longest tokens, tokens per word, and how a Chinese sentence is cut."""

    data: Optional[str] = None  # measure tokens per word on the validation split of this corpus or path
    # (default: a built-in English paragraph)
    json: bool = False  # print one JSON object


@options
class CorpusListOptions:
    """The named corpora lmlab can train on, their size and whether they are cached."""

    json: bool = False  # one JSON object per corpus (JSON Lines)


@options
class CorpusDownloadOptions:
    """Fetch a corpus into the cache."""

    name: str = field(metadata=positional())  # corpus name


@options
class CorpusShowOptions:
    """Documents, sizes and the start of the text of a corpus."""

    name: str = field(metadata=positional())  # corpus name or path
    chars: Annotated[int, NON_NEGATIVE] = 500  # characters of text to print
