"""Positional encodings: the closed forms, the papers' hand-checked cases, and extrapolation."""

import math

import pytest
import torch

from lmlab.nn.positional import (POSITIONS, ALiBi, RotaryPositions, ShawRelativePositions, T5RelativeBias,
                                 alibi_slopes, positional_encoding, sinusoidal_table, t5_bucket)


def test_sinusoidal_table_equals_the_closed_form():
    table = sinusoidal_table(torch.arange(50), 16)
    for p in range(50):
        for i in range(8):
            angle = p / 10000 ** (2 * i / 16)
            assert math.isclose(table[p, 2 * i].item(), math.sin(angle), abs_tol=1e-5)
            assert math.isclose(table[p, 2 * i + 1].item(), math.cos(angle), abs_tol=1e-5)


def test_sinusoidal_shift_is_a_rotation_of_each_frequency_pair():
    """PE[p + k] is PE[p] with every (sin, cos) pair rotated by k times its frequency."""
    table = sinusoidal_table(torch.arange(40), 8)
    k, frequencies = 5, 10000 ** (-torch.arange(0, 8, 2) / 8)
    sin, cos = table[:-k, 0::2], table[:-k, 1::2]
    rotated_sin = sin * torch.cos(k * frequencies) + cos * torch.sin(k * frequencies)
    assert torch.allclose(rotated_sin, table[k:, 0::2], atol=1e-5)


def test_rope_scores_depend_only_on_the_distance():
    rope = RotaryPositions(head_dim=8)
    q, k = torch.randn(1, 1, 1, 8), torch.randn(1, 1, 1, 8)
    def score(m, n):  # query at position m, key at position n
        return (rope.rotate(q, m) * rope.rotate(k, n)).sum().item()
    assert math.isclose(score(3, 1), score(10, 8), rel_tol=1e-4)  # both 2 apart
    assert math.isclose(score(0, 0), score(57, 57), rel_tol=1e-4)
    assert not math.isclose(score(3, 1), score(3, 2), rel_tol=1e-3)


def test_rope_is_multiplication_by_unit_complex_numbers():
    """Pair i of the rotate-half layout, (x_i, x_(i+D/2)), as a complex number times e^(i p theta_i)."""
    rope, x, p = RotaryPositions(head_dim=8, base=100.0), torch.randn(1, 1, 1, 8), 7
    z = torch.complex(x[..., :4], x[..., 4:])
    theta = 100.0 ** (-torch.arange(0, 8, 2) / 8)
    expected = z * torch.polar(torch.ones(4), p * theta)
    rotated = rope.rotate(x, p)
    assert torch.allclose(torch.complex(rotated[..., :4], rotated[..., 4:]), expected, atol=1e-5)


def test_alibi_bias_is_the_papers_on_a_small_case():
    alibi = ALiBi(n_head=4)  # slopes 2^-2, 2^-4, 2^-6, 2^-8
    bias = alibi.bias(torch.zeros(1, 4, 3, 2), start=0, num_keys=3)
    assert bias[0].tolist() == [[0.0, -0.25, -0.5], [-0.25, 0.0, -0.25], [-0.5, -0.25, 0.0]]
    assert bias[3, 2].tolist() == [-2 / 256, -1 / 256, 0.0]
    # with a cache: one query at position 3 against keys 0..3
    assert alibi.bias(torch.zeros(1, 4, 1, 2), start=3, num_keys=4)[0].tolist() == [[-0.75, -0.5, -0.25, 0.0]]


def test_alibi_slopes_for_a_head_count_that_is_not_a_power_of_two():
    assert alibi_slopes(6).tolist() == [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3]
    from transformers.models.bloom.modeling_bloom import build_alibi_tensor

    for n_head in (6, 8, 12):  # BLOOM's tensor is slope * position; position 1 gives the slopes
        bloom = build_alibi_tensor(torch.ones(1, 2), n_head, torch.float32)[:, 0, 1]
        assert torch.allclose(alibi_slopes(n_head), bloom)


def test_t5_buckets_on_a_hand_checked_case():
    # causal, 4 buckets, max_distance 8: distances 0 and 1 exact; 2..3 -> 2; 4..(8 and beyond) -> 3
    past = -torch.tensor([0, 1, 2, 3, 4, 7, 8, 100])
    assert t5_bucket(past, bidirectional=False, num_buckets=4, max_distance=8).tolist() == [0, 1, 2, 2, 3, 3, 3, 3]
    assert t5_bucket(torch.tensor([1, 5]), bidirectional=False, num_buckets=4, max_distance=8).tolist() == [0, 0]
    # bidirectional: 8 buckets, the upper 4 for keys after the query
    both = t5_bucket(torch.tensor([-1, 0, 1, 2, 50]), bidirectional=True, num_buckets=8, max_distance=8).tolist()
    assert both == [1, 0, 5, 6, 7]


@pytest.mark.parametrize("bidirectional", [True, False])
def test_t5_buckets_equal_transformers(bidirectional):
    from transformers.models.t5.modeling_t5 import T5Attention

    distances = torch.arange(-300, 300)[None, :] - torch.arange(0, 40)[:, None]
    expected = T5Attention._relative_position_bucket(distances, bidirectional, 32, 128)
    assert torch.equal(t5_bucket(distances, bidirectional, 32, 128), expected)


def test_t5_bias_is_one_learned_scalar_per_head_and_bucket():
    t5 = T5RelativeBias(n_head=2, bidirectional=False, num_buckets=4, max_distance=8)
    with torch.no_grad():
        t5.buckets.weight.copy_(torch.tensor([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0], [3.0, 13.0]]))
    bias = t5.bias(torch.zeros(1, 2, 5, 4), start=0, num_keys=5)  # (H, Tq, Tk)
    assert bias[1, 4].tolist() == [13.0, 12.0, 12.0, 11.0, 10.0]  # distances 4, 3, 2, 1, 0


def test_shaw_bias_scores_the_query_against_clipped_distance_vectors():
    shaw = ShawRelativePositions(head_dim=2, max_distance=1)  # three vectors: a_-1, a_0, a_+1
    with torch.no_grad():
        shaw.keys.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]))
    q = torch.tensor([[[[2.0, 3.0], [2.0, 3.0], [2.0, 3.0]]]])  # the same query at positions 0, 1, 2
    bias = shaw.bias(q, start=0, num_keys=3)[0, 0] * math.sqrt(2)
    # row 0: distances 0, +1, +2 (clipped to +1); row 2: -2 (clipped to -1), -1, 0
    assert torch.allclose(bias, torch.tensor([[3.0, 5.0, 5.0], [2.0, 3.0, 5.0], [2.0, 2.0, 3.0]]))


@pytest.mark.parametrize("kind", POSITIONS)
def test_every_scheme_but_learned_extrapolates(kind):
    positions = positional_encoding(kind, n_embd=8, n_head=2, block_size=4, bidirectional=False)
    assert positions.extrapolates == (kind != "learned")
    x, q = torch.randn(1, 10, 8), torch.randn(1, 2, 10, 4)
    if positions.extrapolates:  # 10 positions from a block of 4: defined, finite
        assert torch.isfinite(positions.embed(x, 0)).all() and torch.isfinite(positions.rotate(q, 0)).all()
        bias = positions.bias(q, 0, 10)
        assert bias is None or torch.isfinite(bias).all()
    else:
        with pytest.raises(IndexError):
            positions.embed(x, 0)
