"""The tokenizer of an exported model: the files `transformers.AutoTokenizer` reads.

An lmlab ``tokenizer.json`` already is a Hugging Face file (`lmlab.tokenizers.hf_json`):
``tokenizers.Tokenizer.from_file`` reads it and gives lmlab's ids. Per algorithm, the pipeline is

=============  ==========================================================================
``char``       Split every character (regex ``[\\s\\S]``, isolated) -> WordLevel over characters,
               ``<unk>`` for the unseen ones; Fuse decoder. Spaces and newlines are characters.
``word``       Whitespace pre-tokenizer (``\\w+|[^\\w\\s]+``) -> WordLevel, ``<unk>``
``bpe``        ByteLevel (GPT-2's regex, or Split with the run's regex, then ByteLevel) -> BPE with
               the run's merges; ByteLevel decoder
``wordpiece``  BertNormalizer, BertPreTokenizer -> WordPiece (``##``); ``[CLS] a [SEP] b [SEP]``
               post-processor
``unigram``    Prepend + Replace ``▁`` normalizers -> Unigram; Metaspace-style decoders
=============  ==========================================================================

What an exported folder adds is ``tokenizer_config.json``: the class AutoTokenizer builds
(``PreTrainedTokenizerFast``, which runs tokenizer.json as it is), the role of each special
token (``<|endoftext|>`` is bos and eos, ``[PAD]`` pad, ...), the longest input the model takes,
and the inputs the model accepts (a GPT-2 must not be given ``token_type_ids``: it would add them
as token embeddings).

Refused, with the reason: a tokenizer type Hugging Face has no pipeline for, and BPE-dropout
(a training-time regulariser; in tokenizer.json it would make every encoding random).

One difference remains by design: Hugging Face recognises special-token text such as
``"<|endoftext|>"`` inside the input; lmlab reads it as ordinary characters unless
``allowed_special`` says otherwise (`lmlab.tokenizers.base`).
"""

from __future__ import annotations

import os
from pathlib import Path

from lmlab.errors import UserError
from lmlab.io import atomic_write_json
from lmlab.tokenizers import BPETokenizer, Tokenizer, WordPieceTokenizer, load_tokenizer

EXPORTABLE = ("char", "word", "bpe", "wordpiece", "unigram")
# a special token's text -> its roles in transformers' tokenizer_config.json
ROLES = {"<|endoftext|>": ("bos_token", "eos_token"), "<unk>": ("unk_token",), "[UNK]": ("unk_token",),
         "[PAD]": ("pad_token",), "[CLS]": ("cls_token",), "[SEP]": ("sep_token",), "[MASK]": ("mask_token",)}
CAUSAL_INPUTS = ["input_ids", "attention_mask"]
ENCODER_INPUTS = ["input_ids", "token_type_ids", "attention_mask"]


def check_exportable(tokenizer: Tokenizer) -> None:
    """Refuse (UserError, with the reason) a tokenizer whose tokenizer.json Hugging Face cannot run as lmlab does."""
    if tokenizer.type_name not in EXPORTABLE:
        raise UserError(f"a {tokenizer.type_name or type(tokenizer).__name__} tokenizer has no Hugging Face "
                        f"tokenizer.json pipeline (exported: {', '.join(EXPORTABLE)})")
    if getattr(tokenizer, "dropout", 0.0):
        raise UserError(f"BPE-dropout ({tokenizer.dropout}) cannot be exported: transformers would drop merges "
                        f"at random on every encoding; save the tokenizer with dropout 0 and export again")


def tokenizer_config(tokenizer: Tokenizer, max_length: int, causal: bool) -> dict:
    """``tokenizer_config.json`` for AutoTokenizer: class, special-token roles, longest input."""
    config = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length,
              "clean_up_tokenization_spaces": False,  # decode exactly what lmlab decodes
              "model_input_names": CAUSAL_INPUTS if causal else ENCODER_INPUTS}
    for content in sorted(tokenizer.special_tokens, key=tokenizer.special_tokens.get):
        for role in ROLES.get(content, ()):
            config.setdefault(role, content)
    return config


def save_hf_tokenizer(tokenizer: Tokenizer, folder: str | os.PathLike, max_length: int, causal: bool) -> None:
    """Write ``tokenizer.json`` and ``tokenizer_config.json`` into `folder` (atomically)."""
    check_exportable(tokenizer)
    folder = Path(folder)
    tokenizer.save(folder / "tokenizer.json")
    atomic_write_json(folder / "tokenizer_config.json", tokenizer_config(tokenizer, max_length, causal), indent=2)


def load_hf_tokenizer(folder: str | os.PathLike) -> Tokenizer:
    """A Hugging Face model folder's tokenizer: its ``tokenizer.json``, else GPT-2's ``vocab.json`` +
    ``merges.txt``, else BERT's ``vocab.txt``."""
    folder = Path(folder)
    if (folder / "tokenizer.json").is_file():
        return load_tokenizer(folder / "tokenizer.json")
    if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file():
        return BPETokenizer.from_gpt2_files(folder / "vocab.json", folder / "merges.txt")
    if (folder / "vocab.txt").is_file():
        return WordPieceTokenizer.from_vocab_file(folder / "vocab.txt")
    raise UserError(f"{folder} has no tokenizer.json, vocab.json + merges.txt or vocab.txt: no tokenizer to import")
