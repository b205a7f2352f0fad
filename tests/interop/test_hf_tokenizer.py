"""The tokenizer files of an exported folder (lmlab/interop/hf_tokenizer.py): transformers' AutoTokenizer
loads them and gives lmlab's ids, spaces, newlines and unknown characters included."""

import json

import pytest

from lmlab.errors import UserError
from lmlab.interop.hf_tokenizer import check_exportable, load_hf_tokenizer, save_hf_tokenizer
from lmlab.tokenizers import TOKENIZERS, BPETokenizer, CharTokenizer, Tokenizer, WordPieceTokenizer

transformers = pytest.importorskip("transformers", reason="transformers' AutoTokenizer is the reference")

TRAINING = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
            "It was the best of times, it was the worst of times; naïve café.\n") * 8
PROBES = ["Before we proceed", "  two spaces, then\n\nnewlines\tand a tab ", "unseen: Zebra © 😀 ξ", "",
          "speak.\n"]


def exported(tmp_path, algorithm, **options) -> tuple[Tokenizer, object]:
    ours = TOKENIZERS[algorithm]().train([TRAINING], vocab_size=300, **options)
    save_hf_tokenizer(ours, tmp_path, max_length=64, causal=algorithm != "wordpiece")
    return ours, transformers.AutoTokenizer.from_pretrained(str(tmp_path))


@pytest.mark.parametrize("algorithm", ["char", "word", "bpe", "unigram"])
def test_auto_tokenizer_gives_lmlab_ids_and_text(tmp_path, algorithm):
    ours, theirs = exported(tmp_path, algorithm)
    for text in PROBES:
        ids = ours.encode(text)
        assert theirs(text)["input_ids"] == ids, text
        assert theirs.decode(ids) == ours.decode(ids), text
    assert theirs.model_max_length == 64
    assert "token_type_ids" not in theirs("speak")  # a GPT would add them as token embeddings


def test_characters_keep_spaces_and_newlines_and_unknown_ones_are_unk(tmp_path):
    ours, theirs = exported(tmp_path, "char")
    assert isinstance(ours, CharTokenizer)
    ids = theirs("a \n\nZ©")["input_ids"]
    unk = ours.special_tokens["<unk>"]
    assert ids == [ours.char_to_id["a"], ours.char_to_id[" "], ours.char_to_id["\n"], ours.char_to_id["\n"], unk, unk]
    assert theirs.unk_token == "<unk>" and theirs.eos_token == theirs.bos_token == "<|endoftext|>"
    assert theirs.eos_token_id == ours.eot_id


def test_wordpiece_adds_cls_and_sep_like_lmlab_pairs(tmp_path):
    ours, theirs = exported(tmp_path, "wordpiece")
    for text in PROBES:
        encoding = theirs(text, "hear me speak")
        assert (encoding["input_ids"], encoding["token_type_ids"]) == ours.encode_pair(text, "hear me speak"), text
        assert theirs(text)["input_ids"] == ours.encode_pair(text)[0], text
    config = json.loads((tmp_path / "tokenizer_config.json").read_text())
    assert {role: config[role] for role in ("cls_token", "sep_token", "pad_token", "mask_token", "unk_token")} == {
        "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "mask_token": "[MASK]", "unk_token": "[UNK]"}
    assert theirs.pad_token_id == ours.special_tokens["[PAD]"]


def test_tokenizers_without_a_hugging_face_form_are_refused(tmp_path):
    dropout = BPETokenizer(dropout=0.1).train([TRAINING], vocab_size=300)
    with pytest.raises(UserError, match="BPE-dropout .* cannot be exported"):
        check_exportable(dropout)

    class Reversed(CharTokenizer):
        type_name = "reversed"

    with pytest.raises(UserError, match="a reversed tokenizer has no Hugging Face tokenizer.json pipeline"):
        save_hf_tokenizer(Reversed().train([TRAINING]), tmp_path, 64, causal=True)
    assert not list(tmp_path.iterdir())  # refused before any file


def test_a_folder_with_gpt2_vocab_files_or_a_vocab_txt_loads(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    theirs = tokenizers.Tokenizer(tokenizers.models.BPE())
    theirs.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = tokenizers.trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                                             initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
    theirs.train_from_iterator([TRAINING], trainer)
    theirs.model.save(str(tmp_path))  # vocab.json + merges.txt, GPT-2's two files
    ours = load_hf_tokenizer(tmp_path)
    assert isinstance(ours, BPETokenizer) and ours.eot_id == theirs.token_to_id("<|endoftext|>")
    for text in PROBES:
        assert ours.encode(text) == theirs.encode(text).ids, text
    for name in ("vocab.json", "merges.txt"):
        (tmp_path / name).unlink()
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\nspeak\n##s\n", encoding="utf-8")
    assert isinstance(load_hf_tokenizer(tmp_path), WordPieceTokenizer)
    (tmp_path / "vocab.txt").unlink()
    with pytest.raises(UserError, match="no tokenizer to import"):
        load_hf_tokenizer(tmp_path)
