"""`lmlab tokenizer train | encode | decode | inspect`: tokenizers from the command line.

Each handler takes the parsed arguments from `lmlab.cli`, prints its answer on stdout (progress
on stderr) and lets a `UserError` through for the command line to report. Nothing here imports
torch or numpy, so these commands start in a fraction of a second.
"""

from __future__ import annotations

import inspect
import json
import time
import typing
from pathlib import Path

from lmlab.errors import UserError
from lmlab.io import read_text
from lmlab.outputs import claim_file
from lmlab.recipes.common import say, text_keys
from lmlab.recipes.text_options import DecodeOptions, EncodeOptions, InspectOptions, TokenizerTrainOptions

SAMPLE_CHARS = 200_000  # how much of a corpus `inspect --data` encodes
LONGEST_SHOWN = 10
# The sample `inspect` measures when no --data is given: plain English prose.
DEFAULT_SAMPLE = (
    "A tokenizer cuts text into pieces and gives each piece a number. Characters are the "
    "smallest pieces and words the largest; between them, subword tokenizers learn pieces from "
    "data, so that frequent words stay whole while rare ones are spelled out from smaller parts. "
    "Byte-level BPE merges the most frequent pair of adjacent pieces, again and again. WordPiece "
    "merges the pair that is most surprising given its parts. A Unigram model keeps the pieces "
    "that make the training text most likely, and can cut the same word in several ways, which "
    "helps a model trained on its output to cope with spelling variation and noise."
)
# How a Chinese sentence is cut (People's Daily, 1 January 1998; 迈向|充满|希望|的|新|世纪 in the gold
# segmentation): Chinese has no spaces, so this shows whether the tokenizer finds words at all.
CHINESE_SENTENCE = "迈向充满希望的新世纪——一九九八年新年讲话"
CUT_CHARS = 80  # how much of the sample's first line `inspect` shows cut into tokens


def train_command(options: TokenizerTrainOptions) -> None:
    """Train `--algo` on the training split of `--data`; write `--out`."""
    from lmlab.data.corpora import load_corpus, split_corpus
    from lmlab.tokenizers import TOKENIZERS

    cls = TOKENIZERS[options.algo]
    out = claim_file(options.out, options.force)  # before minutes of training
    text, assignments = text_keys(options.overrides)  # where --data's records keep their text
    settings = training_options(cls, assignments)  # the algorithm's own keyword arguments
    if "progress" in inspect.signature(cls.train).parameters:
        settings["progress"] = True
    if options.vocab_size is not None and options.vocab_size < 1:
        raise UserError(f"--vocab-size must be positive, got {options.vocab_size}")
    corpus = load_corpus(options.data, **text)
    texts = split_corpus(corpus).train
    characters = sum(len(text) for text in texts)
    say(f"training a {options.algo} tokenizer on the training split of {corpus.name} ({characters:,} characters)")
    start = time.perf_counter()
    tokenizer = cls().train(texts, vocab_size=options.vocab_size, **settings)
    seconds = time.perf_counter() - start
    tokenizer.save(out)
    print(f"wrote {out}: {options.algo}, {tokenizer.vocab_size:,} tokens, trained in {seconds:.1f} s")


def training_options(cls, assignments: list[str]) -> dict:
    """``--set key=value`` -> keyword arguments of ``cls.train``, typed by its annotations."""
    from lmlab.config import parse_value

    parameters = inspect.signature(cls.train).parameters
    hints = typing.get_type_hints(cls.train)
    valid = [name for name, p in parameters.items() if p.kind is p.KEYWORD_ONLY and name != "progress"]
    options = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or key not in valid:
            raise UserError(f"--set {assignment!r}: expected key=value with a key among "
                            f"{', '.join(valid) or '(none: this algorithm has no options)'}")
        options[key] = parse_value(hints[key], text.strip(), key)
    return options


def encode_command(options: EncodeOptions) -> None:
    """Ids and tokens of TEXT, or of each line of --file (JSON Lines with --json)."""
    from lmlab.tokenizers import load_tokenizer

    if (options.text is None) == (options.file is None):
        raise UserError("give either TEXT or --file PATH (exactly one)")
    tokenizer = load_tokenizer(options.tokenizer)
    if options.file is None:
        texts = [options.text]
    else:
        path = Path(options.file)
        if not path.is_file():
            raise UserError(f"--file {path}: no such file")
        texts = read_text(path).split("\n")  # universal newlines: \r\n is \n here
        if texts[-1] == "":
            texts.pop()  # the newline that ends the last line does not start another one
    allowed = "all" if options.allow_special else "none"
    for text in texts:
        ids = tokenizer.encode(text, allowed_special=allowed)
        tokens = [tokenizer.id_to_token(i) for i in ids]
        if options.json:
            print(json.dumps({"ids": ids, "tokens": tokens}, ensure_ascii=False))
        else:
            print("ids:    " + " ".join(map(str, ids)))
            print("tokens: " + json.dumps(tokens, ensure_ascii=False))


def decode_command(options: DecodeOptions) -> None:
    from lmlab.tokenizers import load_tokenizer

    tokenizer = load_tokenizer(options.tokenizer)
    unknown = [i for i in options.ids if not 0 <= i < tokenizer.vocab_size]
    if unknown:
        raise UserError(f"id {unknown[0]} is not in this tokenizer's vocabulary "
                        f"(ids run from 0 to {tokenizer.vocab_size - 1})")
    print(tokenizer.decode(options.ids))


def inspect_command(options: InspectOptions) -> None:
    """Size, special tokens, longest tokens, tokens per word and characters per token on a sample,
    and how the sample's first line and a Chinese sentence are cut (tokens between ``|``)."""
    from lmlab.tokenizers import load_tokenizer
    from lmlab.tokenizers.segmentation import cut

    tokenizer = load_tokenizer(options.tokenizer)
    if options.data is None:
        sample_name, sample = "built-in English paragraph", DEFAULT_SAMPLE
    else:
        from lmlab.data.corpora import load_corpus, split_corpus

        corpus = load_corpus(options.data)
        sample_name = f"validation split of {corpus.name} (first {SAMPLE_CHARS:,} characters)"
        sample = "\n".join(split_corpus(corpus).val)[:SAMPLE_CHARS]
    special_ids = set(tokenizer.special_tokens.values())
    tokens = {}
    for i in range(tokenizer.vocab_size):
        try:
            tokens[i] = tokenizer.id_to_token(i)
        except (KeyError, IndexError):  # an id the file leaves unused
            continue
    longest = sorted((i for i in tokens if i not in special_ids), key=lambda i: (-len(tokens[i]), i))
    words, ids = len(sample.split()), tokenizer.encode(sample)
    report = {
        "path": str(options.tokenizer),
        "type": tokenizer.type_name,
        "vocab_size": tokenizer.vocab_size,
        "special_tokens": tokenizer.special_tokens,
        "longest_tokens": [tokens[i] for i in longest[:LONGEST_SHOWN]],
        "sample": sample_name,
        "sample_words": words,
        "sample_tokens": len(ids),
        "tokens_per_word": round(len(ids) / words, 3) if words else None,
        "chars_per_token": round(len(sample) / len(ids), 3) if ids else None,
    }
    for key, text in [("sample_cut", sample.split("\n")[0][:CUT_CHARS]), ("chinese_cut", CHINESE_SENTENCE)]:
        report[key] = cut(tokenizer, text)
    if options.json:
        print(json.dumps(report, ensure_ascii=False))
        return
    for key, value in report.items():
        shown = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
        print(f"{key.replace('_', ' '):<16} {shown}")


