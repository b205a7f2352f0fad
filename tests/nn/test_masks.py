"""Masks: padding, causal, their combination, and the softmax over what is left."""

import pytest
import torch

from lmlab.nn.attention import AttentionConfig, MultiHeadAttention
from lmlab.nn.masks import causal_mask, combine_masks, masked_softmax, padding_mask


def test_padding_mask_hides_padding_keys_for_every_query_and_head():
    mask = padding_mask(torch.tensor([[4, 5, 6], [4, -1, -1]]))
    assert mask.shape == (2, 1, 1, 3)
    assert mask[:, 0, 0].int().tolist() == [[1, 1, 1], [1, 0, 0]]


def test_combined_mask_is_causal_and_padding_at_once():
    combined = combine_masks(padding_mask(torch.tensor([[4, 5, -1]])), causal_mask(3, 3))
    assert combined.shape == (1, 1, 3, 3)
    assert combined[0, 0].int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 0]]
    assert combine_masks(None, None) is None


def test_a_fully_masked_row_gives_zero_weights_not_nan_forward_and_backward():
    scores = torch.randn(2, 3, requires_grad=True)
    allowed = torch.tensor([[True, False, True], [False, False, False]])
    weights = masked_softmax(scores, allowed)
    assert weights[1].tolist() == [0.0, 0.0, 0.0]
    assert torch.allclose(weights[0].sum(), torch.tensor(1.0)) and weights[0, 1] == 0
    weights.sum().backward()
    assert torch.isfinite(scores.grad).all()


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
def test_fully_masked_query_outputs_the_projection_bias_only(path):
    attention = MultiHeadAttention(AttentionConfig(8, 2, path=path)).eval()
    x = torch.randn(1, 3, 8)
    nobody = torch.zeros(1, 1, 1, 3, dtype=torch.bool)  # no key may be seen
    out, _ = attention(x, mask=nobody)
    assert torch.isfinite(out).all()
    assert torch.allclose(out, attention.proj.bias.expand(1, 3, 8))  # zero attention output, then W_O


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
def test_perturbing_a_padded_position_changes_no_real_position(path):
    torch.manual_seed(0)
    attention = MultiHeadAttention(AttentionConfig(8, 2, path=path)).eval()  # an encoder's (not causal)
    ids = torch.tensor([[3, 3, 3, -1, -1]])
    x = torch.randn(1, 5, 8)
    changed = x.clone()
    changed[0, 3:] += 10 * torch.randn(2, 8)  # garbage in the padding
    before, _ = attention(x, mask=padding_mask(ids))
    after, _ = attention(changed, mask=padding_mask(ids))
    assert torch.allclose(before[:, :3], after[:, :3], atol=1e-6)
    without_mask, _ = attention(changed)
    assert not torch.allclose(before[:, :3], without_mask[:, :3], atol=1e-3)  # the mask is what protects them


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
def test_perturbing_a_future_position_changes_no_earlier_position(path):
    torch.manual_seed(0)
    attention = MultiHeadAttention(AttentionConfig(8, 2, causal=True, path=path)).eval()
    x = torch.randn(1, 6, 8)
    changed = x.clone()
    changed[0, 4] += 5.0
    before, _ = attention(x)
    after, _ = attention(changed)
    assert torch.equal(before[:, :4], after[:, :4])
    assert not torch.allclose(before[:, 4:], after[:, 4:])
