"""SentencePiece .model files (lmlab/tokenizers/sentencepiece_model.py, sentencepiece_normalizer.py):
the wire reader against hand-made bytes and the sentencepiece package's view of a real file; raw
text in, SentencePiece's ids out, on every line of Botchan (nfkc) and of People's Daily (a model
sentencepiece trains here, nmt_nfkc); the normalizer equal to SentencePiece's on every character
those corpora hold; files lmlab cannot follow refused."""

import io
import struct

import pytest
from conftest import shared_data
from tokenizer_references import HARD_STRINGS, botchan, require

from lmlab.data.chinese import raw_line
from lmlab.errors import UserError
from lmlab.tokenizers import UnigramTokenizer, load_tokenizer
from lmlab.tokenizers.sentencepiece_model import fields, parse_model, read_varint
from lmlab.tokenizers.sentencepiece_normalizer import LOSSLESS, NMT_NFKC, Normalizer

BOTCHAN_MODEL = "sentencepiece/botchan_en_unigram_1000.model"
TRAINING_LINES = 2000  # of People's Daily, for the reference model the test trains
EXTRA_PROBES = ["１９９８年　１２月\u3000\u3000３１日", "tab\there\x01\x7f  and\u200bzero\ufeffwidth ～",
                "\u2581already▁escaped", "   ", "①②③ ㈱ …… ﬁ"]


def varint(value):
    out = bytearray()
    while True:
        out.append(value & 0x7F | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def field(number, wire_type, payload):
    """One protobuf field, written by hand: the key, then the value (a length first for type 2)."""
    key = varint(number << 3 | wire_type)
    return key + (varint(len(payload)) + payload if wire_type == 2 else payload)


def test_varints_and_fields_read_as_written():
    for value in (0, 1, 127, 128, 300, 2**35 + 7):
        assert read_varint(varint(value) + b"\xff", 0) == (value, len(varint(value)))
    message = field(1, 2, b"hi") + field(2, 5, struct.pack("<f", -1.5)) + field(3, 0, varint(300))
    assert [(n, w, v) for n, w, v in fields(message)] == [(1, 2, b"hi"), (2, 5, struct.pack("<f", -1.5)), (3, 0, 300)]
    with pytest.raises(ValueError, match="past the end"):
        list(fields(field(1, 2, b"hello")[:-2]))


def test_a_hand_made_model_proto_reads_back():
    piece = field(1, 2, "▁a".encode()) + field(2, 5, struct.pack("<f", -2.25)) + field(3, 0, varint(1))
    unknown = field(1, 2, b"<unk>") + field(3, 0, varint(2))
    normalizer = field(1, 2, b"identity") + field(3, 0, varint(0))  # add_dummy_prefix false
    model = parse_model(field(1, 2, unknown) + field(1, 2, piece) + field(2, 2, field(35, 0, varint(1)))
                        + field(3, 2, normalizer))
    assert model.pieces == [("<unk>", 0.0, "unknown"), ("▁a", -2.25, "normal")]
    assert model.byte_fallback and model.model_type == "unigram" and model.unk_id == 0
    assert model.normalizer_spec == {"name": "identity", "add_dummy_prefix": False}


def test_the_botchan_file_reads_as_the_sentencepiece_package_reads_it():
    spm = require("sentencepiece")
    reference = spm.SentencePieceProcessor(model_file=str(shared_data(BOTCHAN_MODEL)))
    ours = load_tokenizer(shared_data(BOTCHAN_MODEL))
    assert ours.vocab_size == reference.get_piece_size() == 1000
    assert ours.pieces == [(reference.id_to_piece(i), pytest.approx(reference.get_score(i), abs=0))
                           for i in range(1000)]
    assert ours.special_tokens == {"<unk>": 0, "<s>": 1, "</s>": 2}
    assert ours.normalizer == Normalizer("nfkc")


def test_raw_botchan_in_sentencepiece_ids_out():
    spm = require("sentencepiece")
    reference = spm.SentencePieceProcessor(model_file=str(shared_data(BOTCHAN_MODEL)))
    ours = load_tokenizer(shared_data(BOTCHAN_MODEL))
    lines = botchan().split("\n") + HARD_STRINGS + EXTRA_PROBES
    differ = [line for line in lines if ours.encode(line) != reference.encode(line)]
    assert not differ, differ[:3]


@pytest.fixture(scope="module")
def renmin_lines():
    text = shared_data("zh/renmin-199801-tagged.txt").read_text(encoding="utf-8")
    return [raw_line(line) for line in text.splitlines()]


@pytest.fixture(scope="module", params=[False, True], ids=["unk", "byte-fallback"])
def chinese_model(request, renmin_lines, tmp_path_factory):
    """A Unigram model sentencepiece trains on the first lines of People's Daily (its defaults:
    nmt_nfkc; 98% character coverage, so the rarest characters are unknown or bytes)."""
    spm = require("sentencepiece")
    written = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(renmin_lines[:TRAINING_LINES]), model_writer=written,
                                   vocab_size=3000, character_coverage=0.98, byte_fallback=request.param,
                                   minloglevel=2, num_threads=1)
    path = tmp_path_factory.mktemp("spm") / "renmin.model"
    path.write_bytes(written.getvalue())
    return path, spm.SentencePieceProcessor(model_file=str(path))


def test_raw_chinese_in_sentencepiece_ids_out_on_every_line(chinese_model, renmin_lines):
    path, reference = chinese_model
    ours = load_tokenizer(path)
    assert ours.normalizer == NMT_NFKC and ours.byte_fallback == reference.is_byte(reference.piece_to_id("<0x00>"))
    lines = renmin_lines + HARD_STRINGS + EXTRA_PROBES
    assert len(lines) > 19_000
    differ = [line for line in lines if ours.encode(line) != reference.encode(line)]
    assert not differ, differ[:3]
    sentence = "１９９８年，中国人民在新的一年里……"
    assert ours.decode(ours.encode(sentence)) == reference.decode(reference.encode(sentence))


def test_the_normalizers_equal_sentencepiece_on_every_character_of_both_corpora(chinese_model, renmin_lines):
    spm = require("sentencepiece")
    characters = sorted(set(botchan()) | set("".join(renmin_lines)) | set("".join(EXTRA_PROBES)))
    for model, ours in [(shared_data(BOTCHAN_MODEL), Normalizer("nfkc")), (chinese_model[0], NMT_NFKC)]:
        reference = spm.SentencePieceNormalizer(model_file=str(model))
        differ = [c for c in characters if ours(f"a{c}b") != reference.normalize(f"a{c}b")]
        assert not differ, [hex(ord(c)) for c in differ]


def test_a_loaded_model_saves_as_tokenizer_json_with_the_same_ids(chinese_model, renmin_lines, tmp_path):
    ours = load_tokenizer(chinese_model[0])
    ours.save(tmp_path / "tokenizer.json")
    again = load_tokenizer(tmp_path / "tokenizer.json")
    assert again.normalizer == ours.normalizer and again.pieces == ours.pieces
    for line in renmin_lines[-300:] + HARD_STRINGS:
        assert again.encode(line) == ours.encode(line)


def test_training_with_sentencepiece_normalization(renmin_lines):
    ours = UnigramTokenizer().train(renmin_lines[:300], vocab_size=1500, normalization="nmt_nfkc")
    assert ours.normalizer == NMT_NFKC
    pieces = {piece for piece, _ in ours.pieces}
    assert not any(c in piece for piece in pieces for c in "０１２３４５６７８９")  # full-width digits normalized away
    assert ours.decode(ours.encode("１９９８年  新年")) == "1998年 新年"
    assert UnigramTokenizer().train(["a  b"], vocab_size=300).normalizer == LOSSLESS
    with pytest.raises(UserError, match="unknown normalization"):
        UnigramTokenizer().train(["abc"], vocab_size=300, normalization="nfc")


def test_models_lmlab_cannot_follow_are_refused_by_name(tmp_path):
    with pytest.raises(UserError, match="model_type bpe"):
        load_tokenizer(shared_data("sentencepiece/botchan_en_bpe_1000.model"))
    cased = field(1, 2, field(1, 2, b"<unk>") + field(3, 0, varint(2))) + field(3, 2, field(1, 2, b"nmt_nfkc_cf"))
    (tmp_path / "cased.model").write_bytes(cased)
    with pytest.raises(UserError, match="normalizer 'nmt_nfkc_cf'"):
        load_tokenizer(tmp_path / "cased.model")
    (tmp_path / "broken.model").write_bytes(b"\x0a\xff\xff\xff")
    with pytest.raises(UserError, match="not a SentencePiece .model file"):
        load_tokenizer(tmp_path / "broken.model")
    with pytest.raises(UserError, match="not found"):
        load_tokenizer(tmp_path / "missing.model")
