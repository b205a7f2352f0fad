"""StreamSampler: contiguous streams per batch row, a pure function of the step."""

import numpy as np
import pytest
import torch

from lmlab.data.lm import StreamSampler
from lmlab.errors import UserError

IDS = np.arange(1000, dtype=np.uint16)


def test_each_row_continues_where_it_stopped_and_passes_restart_with_a_new_phase():
    sampler = StreamSampler(IDS, block_size=10, rows=4, seed=0)  # segments of 250 tokens, 23 windows a pass
    assert sampler.windows_per_pass == 23
    first, second = sampler.step_batches(0, 4, 1)[0], sampler.step_batches(1, 4, 1)[0]
    inputs, targets = first
    assert torch.equal(targets[:, :-1], inputs[:, 1:])
    assert torch.equal(second[0][:, 0], inputs[:, -1] + 1)  # the next window starts right after
    assert torch.equal(inputs[:, 0] // 250, torch.arange(4))  # row r reads segment r
    assert sampler.restarts(0) and not sampler.restarts(22) and sampler.restarts(23)
    phases = {int(sampler.step_batches(23 * p, 4, 1)[0][0][0, 0]) for p in range(8)}
    assert len(phases) > 1 and all(0 <= p < 10 for p in phases)  # window boundaries move between passes
    last = sampler.step_batches(22, 4, 1)[0][1]
    assert int(last.max()) < 1000 and torch.all(last[:, -1] // 250 == torch.arange(4))  # stays in its segment


def test_accumulation_and_ranks_split_the_same_global_streams():
    sampler = StreamSampler(IDS, block_size=10, rows=8, seed=1)
    whole = sampler.step_batches(5, 8, 1)[0][0]
    micro = [x for x, _ in sampler.step_batches(5, 2, 2, rank=1, world_size=2)]
    layout = whole.view(2, 2, 2, 10)  # (micro-step, rank, row)
    assert torch.equal(micro[0], layout[0, 1]) and torch.equal(micro[1], layout[1, 1])
    assert torch.equal(sampler.step_batches(5, 8, 1)[0][0], whole)  # deterministic
    with pytest.raises(ValueError, match="cannot be cut"):
        sampler.step_batches(0, 4, 1)


def test_too_little_data_is_a_user_error():
    with pytest.raises(UserError, match="too few"):
        StreamSampler(IDS[:100], block_size=10, rows=8, seed=0)


def test_stream_windows_score_every_token_once_along_contiguous_rows():
    from lmlab.data.lm import stream_windows

    ids = np.arange(50, dtype=np.uint16)
    batches = list(stream_windows(ids, block_size=4, rows=3))  # 49 targets: rows of 17, 17, 15
    targets = torch.cat([t for _, t in batches], dim=1)  # (3, 20): each row's targets in order
    kept = [row[row >= 0].tolist() for row in targets]
    assert kept == [list(range(1, 18)), list(range(18, 35)), list(range(35, 50))]
    for inputs, target in batches:
        mask = target >= 0
        assert torch.equal(inputs[mask] + 1, target[mask])  # inputs are the previous token
