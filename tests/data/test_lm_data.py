import numpy as np
import pytest
import torch

from lmlab.data.lm import WindowSampler, encode_documents, load_ids, save_ids, sequential_windows
from lmlab.errors import UserError
from lmlab.tokenizers import CharTokenizer

IDS = np.arange(1000, dtype=np.uint16)  # id == position makes windows easy to check


def test_documents_are_joined_with_end_of_text(tmp_path):
    tokenizer = CharTokenizer().train(["ab", "ba"])
    ids = encode_documents(tokenizer, ["ab", "b"])
    eot = tokenizer.eot_id
    assert ids.tolist() == tokenizer.encode("ab") + [eot] + tokenizer.encode("b") + [eot]
    assert ids.dtype == np.uint16
    save_ids(tmp_path / "ids.npy", ids)
    assert load_ids(tmp_path / "ids.npy").tolist() == ids.tolist()


def test_windows_are_shifted_by_one():
    sampler = WindowSampler(IDS, block_size=8, seed=0)
    inputs, targets = sampler.windows(np.array([3, 100]))
    assert inputs[0].tolist() == list(range(3, 11)) and targets[0].tolist() == list(range(4, 12))
    assert inputs.dtype == torch.long and inputs.shape == (2, 8)


def test_batches_are_a_function_of_the_step():
    sampler = WindowSampler(IDS, block_size=8, seed=1)
    assert np.array_equal(sampler.starts(5, 16), WindowSampler(IDS, 8, 1).starts(5, 16))
    assert not np.array_equal(sampler.starts(5, 16), sampler.starts(6, 16))
    assert sampler.starts(0, 10_000).max() <= len(IDS) - 9  # every window fits


def test_accumulation_and_ranks_partition_the_same_global_batch():
    sampler = WindowSampler(IDS, block_size=4, seed=3)
    whole = sampler.step_batches(7, batch_size=8, grad_accum=1)[0][0]
    accumulated = torch.cat([x for x, _ in sampler.step_batches(7, batch_size=2, grad_accum=4)])
    assert torch.equal(whole, accumulated)
    ranks = [sampler.step_batches(7, batch_size=4, grad_accum=1, rank=r, world_size=2)[0][0] for r in (0, 1)]
    assert torch.equal(torch.cat(ranks), whole)
    fixed = sampler.fixed_batches(3, batch_size=4)
    fixed_ranks = [sampler.fixed_batches(3, batch_size=2, rank=r, world_size=2) for r in (0, 1)]
    for index in range(3):
        assert torch.equal(torch.cat([fixed_ranks[0][index][0], fixed_ranks[1][index][0]]), fixed[index][0])


def test_sequential_windows_predict_every_token_exactly_once():
    ids = np.arange(23, dtype=np.uint16)
    targets = torch.cat([t.flatten() for _, t in sequential_windows(ids, block_size=5, batch_size=2)])
    assert sorted(targets[targets != -1].tolist()) == list(range(1, 23))


def test_too_little_data_for_one_window_is_a_user_error():
    with pytest.raises(UserError, match="fewer than one window"):
        WindowSampler(np.arange(5), block_size=8, seed=0)
