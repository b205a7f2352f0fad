"""Parallel text: reading aligned files, encoding pairs, padded batches, bucketing by length."""

import pytest
import torch

from conftest import shared_data
from lmlab.data.batching import in_order
from lmlab.data.pairs import PairBatches, collate, encode_pairs, read_parallel
from lmlab.errors import UserError
from lmlab.tokenizers import CharTokenizer


def write_pairs(folder, split, sources, targets):
    (folder / f"{split}.en").write_text("\n".join(sources) + "\n", encoding="utf-8")
    (folder / f"{split}.de").write_text("\n".join(targets) + "\n", encoding="utf-8")


def test_reads_aligned_lines_and_drops_pairs_with_an_empty_side(tmp_path):
    write_pairs(tmp_path, "train", ["a cat", "", "a dog "], ["eine Katze", "leer", "ein Hund"])
    assert read_parallel(tmp_path, "train", "en", "de") == [("a cat", "eine Katze"), ("a dog", "ein Hund")]


def test_missing_or_misaligned_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="train.en not found"):
        read_parallel(tmp_path, "train", "en", "de")
    write_pairs(tmp_path, "train", ["one", "two"], ["eins"])
    with pytest.raises(UserError, match="aligned"):
        read_parallel(tmp_path, "train", "en", "de")


def test_a_pair_is_source_eos_and_bos_target_eos_shifted_for_teacher_forcing():
    tokenizer = CharTokenizer().train(["abcxyz"])
    eos = tokenizer.eot_id
    [(source, target)] = encode_pairs(tokenizer, tokenizer, [("ab", "xyz")], max_length=10)
    assert source == tokenizer.encode("ab") + [eos]
    assert target == [eos] + tokenizer.encode("xyz") + [eos]
    source, decoder_input, targets = collate([(source, target), ([5, eos], [eos, 7, eos])])
    assert source.tolist() == [tokenizer.encode("ab") + [eos], [5, eos, -1]]
    assert decoder_input.tolist() == [[eos] + tokenizer.encode("xyz"), [eos, 7, -1, -1]]  # shifted right
    assert targets.tolist() == [tokenizer.encode("xyz") + [eos], [7, eos, -1, -1]]


def test_long_sentences_are_cut_to_max_length():
    tokenizer = CharTokenizer().train(["abcdefgh"])
    [(source, target)] = encode_pairs(tokenizer, tokenizer, [("abcdefgh", "abcdefgh")], max_length=4)
    assert len(source) == 4 and len(target) == 5  # decoder input and targets are 4 each


def test_batches_are_a_pure_function_of_the_step_and_group_similar_lengths():
    pairs = [([1] * (1 + i * 7 % 20), [0] + [2] * (1 + i * 7 % 20 + i % 3) + [0]) for i in range(400)]  # shuffled lengths
    batches = PairBatches(pairs, global_batch=10, seed=3, pool=10)
    assert batches.steps_per_epoch == 40
    first = [batches.step_batches(step, 10, 1)[0] for step in (0, 5, 41)]
    again = PairBatches(pairs, global_batch=10, seed=3, pool=10)
    for step, expected in zip((0, 5, 41), first):  # a resumed run sees the same batches
        assert all(torch.equal(a, b) for a, b in zip(again.step_batches(step, 10, 1)[0], expected))
    epoch = batches.epoch_batches(0)
    assert sorted(i for batch in epoch for i in batch.tolist()) == list(range(400))  # every pair once
    padding = sum(int((collate([pairs[i] for i in batch])[0] == -1).sum()) for batch in epoch)
    unsorted = sum(int((collate(pairs[s:s + 10])[0] == -1).sum()) for s in range(0, 400, 10))
    assert padding < unsorted / 3  # bucketing saves most of the padding


def test_micro_batches_and_ranks_split_the_global_batch():
    pairs = [([i + 1], [0, i + 1, 0]) for i in range(32)]
    batches = PairBatches(pairs, global_batch=8, seed=0)
    whole = batches.step_batches(2, 8, 1)[0][0].flatten().tolist()
    parts = [batches.step_batches(2, 2, grad_accum=2, rank=r, world_size=2) for r in range(2)]
    assert sorted(t for rank in parts for micro in rank for t in micro[0].flatten().tolist()) == sorted(whole)
    assert len(in_order(pairs, 10, collate)) == 4


def test_multi30k_is_aligned():
    folder = shared_data("multi30k")
    train, val = read_parallel(folder, "train", "en", "de"), read_parallel(folder, "val", "en", "de")
    assert len(train) == 29000 and len(val) == 1014
    assert train[0][1].startswith("Zwei junge")
