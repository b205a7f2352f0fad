"""tokenizer.json (lmlab/tokenizers/hf_json.py and base.py): lmlab's files are Hugging Face files that
`tokenizers` loads with the same ids, and lmlab reads Hugging Face's own files."""

import json

import pytest
from conftest import shared_data
from tokenizer_references import HARD_STRINGS, gpt2, require

from lmlab.errors import UserError
from lmlab.tokenizers import TOKENIZERS, BPETokenizer, load_tokenizer
from lmlab.tokenizers.hf_json import merges

TRAINING_TEXT = "\n".join(HARD_STRINGS) + "\n" + (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was the age "
    "of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n") * 20
PROBES = HARD_STRINGS + ["it was the age of incredulity", "unseen words: zyzzyva, quokka", "tab\tand\nnewline"]

VARIANTS = {  # name -> (algorithm, training options)
    "char": ("char", {}), "word": ("word", {}), "bpe": ("bpe", {}), "bpe-gpt4": ("bpe", {"pattern": "gpt4"}), "bpe-gpt2-cjk": ("bpe", {"pattern": "gpt2-cjk"}),
    "wordpiece": ("wordpiece", {}), "wordpiece-cased": ("wordpiece", {"lowercase": False}),
    "unigram": ("unigram", {}), "unigram-nmt-nfkc": ("unigram", {"normalization": "nmt_nfkc"}),
}


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_lmlab_file_loads_in_hugging_face_tokenizers_with_the_same_ids(variant, tmp_path):
    tokenizers = require("tokenizers")
    algorithm, options = VARIANTS[variant]
    ours = TOKENIZERS[algorithm]().train([TRAINING_TEXT], vocab_size=400, **options)
    ours.save(tmp_path / "tokenizer.json")
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert list(data) == ["version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer",
                          "post_processor", "decoder", "model"]
    assert data["model"]["lmlab"] == {"format_version": 1, "type": algorithm}
    theirs = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert theirs.get_vocab_size() == ours.vocab_size
    for text in PROBES:
        ids = ours.encode(text)
        assert theirs.encode(text, add_special_tokens=False).ids == ids, text
        assert theirs.decode(ids, skip_special_tokens=False) == ours.decode(ids), text


def test_bert_pairs_come_out_the_same_from_the_exported_file(tmp_path):
    tokenizers = require("tokenizers")
    ours = TOKENIZERS["wordpiece"]().train([TRAINING_TEXT], vocab_size=400)
    ours.save(tmp_path / "tokenizer.json")
    encoding = tokenizers.Tokenizer.from_file(str(tmp_path / "tokenizer.json")).encode("the age", "of wisdom")
    assert ours.encode_pair("the age", "of wisdom") == (encoding.ids, encoding.type_ids)


def test_gpt2_as_hugging_face_writes_it_reads_back_with_the_same_ids(tmp_path):
    tokenizers = require("tokenizers")
    theirs = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(str(shared_data("gpt2/encoder.json")),
                                                                  str(shared_data("gpt2/vocab.bpe"))))
    theirs.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    theirs.decoder = tokenizers.decoders.ByteLevel()
    theirs.add_special_tokens(["<|endoftext|>"])
    theirs.save(str(tmp_path / "tokenizer.json"))
    ours = load_tokenizer(tmp_path / "tokenizer.json")
    assert isinstance(ours, BPETokenizer) and ours.merges == gpt2().merges and ours.eot_id == 50256
    for text in PROBES:
        assert ours.encode(text) == theirs.encode(text).ids == gpt2().encode(text), text


def test_merges_are_read_in_both_spellings(tmp_path):
    gpt2().save(tmp_path / "lists.json")
    data = json.loads((tmp_path / "lists.json").read_text(encoding="utf-8"))
    assert data["model"]["merges"][0] == ["Ġ", "t"]
    data["model"]["merges"] = [" ".join(pair) for pair in data["model"]["merges"]]
    (tmp_path / "strings.json").write_text(json.dumps(data), encoding="utf-8")
    assert load_tokenizer(tmp_path / "strings.json").merges == gpt2().merges
    assert merges({"merges": ["Ġ t", ["h", "e"]]}) == [("Ġ", "t"), ("h", "e")]


def test_a_hugging_face_word_level_file_with_its_own_unknown_token(tmp_path):
    tokenizers = require("tokenizers")
    theirs = tokenizers.Tokenizer(tokenizers.models.WordLevel({"[UNK]": 0, "hello": 1, ",": 2, "world": 3},
                                                              unk_token="[UNK]"))
    theirs.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    theirs.add_special_tokens(["[UNK]"])
    theirs.save(str(tmp_path / "tokenizer.json"))
    ours = load_tokenizer(tmp_path / "tokenizer.json")
    for text in ["hello, world", "hello there world!"]:
        assert ours.encode(text) == theirs.encode(text).ids


def write(tmp_path, data) -> str:
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return str(path)


def test_files_lmlab_cannot_follow_are_refused_with_a_reason(tmp_path):
    gpt2().save(tmp_path / "tokenizer.json")
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    cases = [
        ({**data, "normalizer": {"type": "NFKC"}}, "unsupported normalizer for byte-level BPE"),
        ({**data, "pre_tokenizer": {"type": "Whitespace"}}, "unsupported pre_tokenizer for byte-level BPE"),
        ({**data, "model": {**data["model"], "lmlab": {"format_version": 99, "type": "bpe"}}},
         "format version 99 is not supported"),
        ({**data, "model": {**data["model"], "lmlab": {"format_version": 1, "type": "lstm"}}},
         "unknown tokenizer type 'lstm'"),
        ({"model": {"type": "Rocket"}}, "model type 'Rocket' has no lmlab counterpart"),
        ({"added_tokens": []}, "no 'model' section"),
        ("{not json", "not valid"),
    ]
    for content, message in cases:
        with pytest.raises(UserError, match=message):
            load_tokenizer(write(tmp_path, content))
    with pytest.raises(UserError, match="tokenizer file not found"):
        load_tokenizer(tmp_path / "missing.json")
