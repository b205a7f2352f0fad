import math

import pytest
import torch

from lmlab.nn.attention import AttentionConfig, MultiHeadAttention, explicit_attention, scaled_dot_product_scores
from lmlab.nn.kv_cache import KVCache
from lmlab.nn.masks import additive_mask, causal_mask


def CausalSelfAttention(n_embd, n_head, path="sdpa", **options):
    """GPT's attention: causal self-attention with a fused QKV projection."""
    return MultiHeadAttention(AttentionConfig(n_embd, n_head, causal=True, path=path, **options))


def test_scores_are_dot_products_over_sqrt_dk():
    q = torch.tensor([[1.0, 2.0, 0.0, 1.0]])
    k = torch.tensor([[3.0, 1.0, 5.0, -1.0], [0.0, 0.0, 1.0, 0.0]])
    # hand: (1*3 + 2*1 + 0*5 + 1*-1) / sqrt(4) = 4 / 2 = 2 ; second key: 0
    assert scaled_dot_product_scores(q, k).tolist() == [[2.0, 0.0]]


def test_causal_mask_blocks_the_future_and_shifts_with_a_cache():
    assert causal_mask(3, 3).int().tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    assert causal_mask(1, 4).int().tolist() == [[1, 1, 1, 1]]  # one new token sees the whole past
    assert causal_mask(2, 4).int().tolist() == [[1, 1, 1, 0], [1, 1, 1, 1]]
    assert additive_mask(causal_mask(2, 2), torch.float32).tolist() == [[0.0, -math.inf], [0.0, 0.0]]


def test_explicit_attention_weights_are_distributions_with_zero_on_the_future():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 5, 4).unbind(0)
    out, weights = explicit_attention(q, k, v, causal_mask(5, 5))
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5))
    assert torch.all(weights.triu(diagonal=1) == 0)
    # the first position can only look at itself: its output is its own value
    assert torch.allclose(out[:, 0], v[:, 0], atol=1e-6)


@pytest.mark.parametrize("T", [1, 7])
def test_explicit_and_fast_paths_agree(T):
    torch.manual_seed(0)
    explicit = CausalSelfAttention(16, 4, path="explicit").eval()
    fast = CausalSelfAttention(16, 4, path="sdpa").eval()
    fast.load_state_dict(explicit.state_dict())
    x = torch.randn(2, T, 16)
    assert torch.allclose(explicit(x)[0], fast(x)[0], atol=1e-6)


def test_fast_path_with_cache_and_several_new_tokens_matches_full():
    """The shifted-diagonal mask case: a 3-token chunk after a 4-token cached prefix."""
    torch.manual_seed(0)
    attention = CausalSelfAttention(16, 4, path="sdpa").eval()
    x = torch.randn(1, 7, 16)
    full, _ = attention(x)
    cache = KVCache(1, 1, 4, 4, max_length=7)
    first, _ = attention(x[:, :4], cache=cache)
    cache.advance()
    second, _ = attention(x[:, 4:], cache=cache)
    assert torch.allclose(torch.cat([first, second], 1), full, atol=1e-6)


def test_attention_equals_torch_multihead_attention_with_copied_weights():
    """An independent reference: torch.nn.MultiheadAttention with the same projections and mask."""
    torch.manual_seed(0)
    ours = CausalSelfAttention(16, 4, path="explicit").eval()
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    with torch.no_grad():
        reference.in_proj_weight.copy_(ours.qkv.weight)
        reference.in_proj_bias.copy_(ours.qkv.bias)
        reference.out_proj.weight.copy_(ours.proj.weight)
        reference.out_proj.bias.copy_(ours.proj.bias)
    x = torch.randn(2, 6, 16)
    expected, expected_weights = reference(x, x, x, attn_mask=~causal_mask(6, 6), average_attn_weights=False)
    out, weights = ours(x, need_weights=True)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(weights, expected_weights, atol=1e-6)


def test_kv_cache_refuses_to_overflow():
    cache = KVCache(1, 1, 1, 2, max_length=3)
    cache.update(0, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    cache.advance()
    with pytest.raises(ValueError, match="KV cache full"):
        cache.update(0, torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2))
