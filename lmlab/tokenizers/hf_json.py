"""Hugging Face ``tokenizer.json``: the pieces of its schema that lmlab reads and writes.

Every lmlab tokenizer is saved in this schema (`Tokenizer.save`), so the same file works in
``tokenizers.Tokenizer.from_file`` and gives the same ids; and `Tokenizer.load` reads Hugging
Face's own files when their pipeline is one an lmlab algorithm reproduces exactly:

=============  =====================================  ======================================
lmlab type     ``model.type``                         pipeline around it
=============  =====================================  ======================================
``char``       WordLevel                              Split each character; Fuse decoder
``word``       WordLevel                              Split keeping word matches, or Whitespace
``bpe``        BPE                                    ByteLevel (GPT-2 regex), or Split + ByteLevel
``wordpiece``  WordPiece                              BertNormalizer, BertPreTokenizer
``unigram``    Unigram                                Prepend and Replace ``▁`` (+ NFKC steps)
=============  =====================================  ======================================

The tokenizers build their own sections (`Tokenizer.model_to_dict`, `pipeline_to_dict`) from the
small constructors here. Anything else a file asks for (a normalizer lmlab does not have, byte
fallback in BPE, ...) is refused with a message naming it, never silently ignored.

This module depends on no other tokenizer module, so `base` can use it.
"""

from __future__ import annotations

from lmlab.errors import UserError

MODEL_TYPES = {"WordLevel": "word", "BPE": "bpe", "WordPiece": "wordpiece", "Unigram": "unigram"}


def infer_type(data: dict, source: str) -> str:
    """The lmlab type for a Hugging Face file (which has no lmlab header)."""
    model_type = data["model"].get("type")
    if model_type not in MODEL_TYPES:
        raise UserError(f"{source}: Hugging Face model type {model_type!r} has no lmlab counterpart "
                        f"(lmlab reads {', '.join(MODEL_TYPES)})")
    if model_type == "WordLevel" and is_type(data.get("pre_tokenizer"), "Split", behavior="Isolated"):
        return "char"
    return MODEL_TYPES[model_type]


# --- added tokens ------------------------------------------------------------------------------
def added_tokens(special_tokens: dict[str, int]) -> list[dict]:
    """``{"<|endoftext|>": 256}`` -> the ``added_tokens`` list, sorted by id."""
    return [
        {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for content, i in sorted(special_tokens.items(), key=lambda item: item[1])
    ]


def special_tokens(entries: list[dict]) -> dict[str, int]:
    """The ``added_tokens`` list -> ``{content: id}`` (lmlab treats every added token as special)."""
    return {entry["content"]: int(entry["id"]) for entry in entries}


# --- reading sections --------------------------------------------------------------------------
def is_type(section, type_name: str, **fields) -> bool:
    """Is `section` a component of this type whose `fields` have these values?

    >>> is_type({"type": "ByteLevel", "use_regex": True}, "ByteLevel", use_regex=True)
    True
    """
    return (isinstance(section, dict) and section.get("type") == type_name
            and all(section.get(key) == value for key, value in fields.items()))


def steps(section) -> list:
    """A component as a list of steps: a ``Sequence``'s items, or the component alone."""
    if section is None:
        return []
    if is_type(section, "Sequence"):
        return section.get("pretokenizers") or section.get("normalizers") or section.get("decoders") or []
    return [section]


def require(condition: bool, what: str, section) -> None:
    """Refuse a file whose `section` lmlab cannot reproduce (ValueError, shown as a UserError)."""
    if not condition:
        raise ValueError(f"unsupported {what}: {section!r}")


def merges(model: dict) -> list[tuple[str, str]]:
    """BPE merges in either spelling: ``"a b"`` (older files, GPT-2's vocab.bpe) or ``["a", "b"]``.

    >>> merges({"merges": ["Ġ t", ["h", "e"]]})
    [('Ġ', 't'), ('h', 'e')]
    """
    pairs = []
    for merge in model["merges"]:
        a, b = merge.split(" ") if isinstance(merge, str) else merge
        pairs.append((a, b))
    return pairs


def regex_of(split: dict) -> str:
    """The pattern of a ``Split`` pre-tokenizer (KeyError if it splits on a plain string)."""
    return split["pattern"]["Regex"]


# --- writing sections --------------------------------------------------------------------------
def byte_level(use_regex: bool) -> dict:
    """GPT-2's byte-to-symbol mapping, with its regex pre-split when `use_regex`."""
    return {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": use_regex}


def split(pattern: str, behavior: str = "Isolated", invert: bool = False) -> dict:
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": behavior, "invert": invert}


def sequence(kind: str, items: list[dict]) -> dict:
    """``kind`` is ``"pretokenizers"``, ``"normalizers"`` or ``"decoders"``."""
    return {"type": "Sequence", kind: items}
