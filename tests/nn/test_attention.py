import math

import pytest
import torch

from lmlab.nn.attention import (SCORES, AdditiveScore, AttentionConfig, BilinearScore, DotProductScore, MultiHeadAttention,
                                explicit_attention, scaled_dot_product_scores)
from lmlab.nn.kv_cache import KVCache
from lmlab.nn.masks import additive_mask, causal_mask, padding_mask


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


# --- the generalised module: scores, masks, self/cross, fused/separate, GQA, paths ---------------------
def mha(**options) -> MultiHeadAttention:
    torch.manual_seed(0)
    return MultiHeadAttention(AttentionConfig(**{"n_embd": 16, "n_head": 4, **options})).eval()


def torch_reference(ours: MultiHeadAttention) -> torch.nn.MultiheadAttention:
    reference = torch.nn.MultiheadAttention(16, 4, batch_first=True).eval()
    biases = [ours.qkv.bias] if ours.config.fused_qkv and not ours.config.cross else (
        [ours.q.bias, ours.kv.bias] if ours.config.fused_qkv else [ours.q.bias, ours.k.bias, ours.v.bias])
    with torch.no_grad():
        reference.in_proj_weight.copy_(torch.cat(ours.projection_weights()))
        reference.in_proj_bias.copy_(torch.cat(biases))
        reference.out_proj.weight.copy_(ours.proj.weight)
        reference.out_proj.bias.copy_(ours.proj.bias)
    return reference


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
@pytest.mark.parametrize("fused_qkv", [True, False])
def test_self_attention_with_padding_and_causal_masks_equals_torch(path, fused_qkv):
    ours = mha(causal=True, path=path, fused_qkv=fused_qkv)
    reference = torch_reference(ours)
    x = torch.randn(2, 6, 16)
    ids = torch.tensor([[1, 2, 3, 4, 5, 6], [1, 2, 3, -1, -1, -1]])  # the second sentence is padded
    expected, _ = reference(x, x, x, attn_mask=~causal_mask(6, 6), key_padding_mask=ids == -1)
    out, _ = ours(x, mask=padding_mask(ids))
    assert torch.allclose(out, expected, atol=1e-6)


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
@pytest.mark.parametrize("fused_qkv", [True, False])
def test_cross_attention_with_key_padding_equals_torch(path, fused_qkv):
    ours = mha(cross=True, path=path, fused_qkv=fused_qkv)
    reference = torch_reference(ours)
    x, memory = torch.randn(2, 3, 16), torch.randn(2, 5, 16)
    source = torch.tensor([[7, 7, 7, 7, 7], [7, 7, -1, -1, -1]])
    expected, expected_weights = reference(x, memory, memory, key_padding_mask=source == -1,
                                           average_attn_weights=False)
    out, weights = ours(x, memory, mask=padding_mask(source), need_weights=True)
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(weights, expected_weights, atol=1e-6)


@pytest.mark.parametrize("options", [
    dict(), dict(causal=True), dict(score="dot"), dict(score="bilinear", causal=True), dict(n_kv_head=2),
    dict(n_kv_head=1, causal=True), dict(cross=True), dict(fused_qkv=False, causal=True)])
def test_fast_path_equals_explicit_path(options):
    explicit, fast = mha(path="explicit", **options), mha(path="sdpa", **options)
    fast.load_state_dict(explicit.state_dict())
    x, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    mask = padding_mask(torch.tensor([[1] * 7, [1, 1, 1, -1, -1, -1, -1]]))
    if not options.get("cross"):
        memory, mask = None, mask[..., :5]
    for m in (None, mask):
        assert torch.allclose(explicit(x, memory, mask=m)[0], fast(x, memory, mask=m)[0], atol=1e-6)


def test_dot_bilinear_and_additive_scores_by_hand():
    q = torch.tensor([[[[1.0, 2.0]]]])  # (B, H, Tq, D) = (1, 1, 1, 2)
    k = torch.tensor([[[[3.0, -1.0], [0.5, 0.5]]]])  # two keys
    assert DotProductScore(scaled=False)(q, k).tolist() == [[[[1.0, 1.5]]]]
    assert torch.allclose(DotProductScore(scaled=True)(q, k), torch.tensor([[[[1.0, 1.5]]]]) / math.sqrt(2))
    bilinear = BilinearScore(1, 2)
    with torch.no_grad():
        bilinear.weight.copy_(torch.tensor([[[0.0, 1.0], [2.0, 0.0]]]))  # q^T W k = 2 q2 k1 + q1 k2
    assert bilinear(q, k).tolist() == [[[[2 * 2 * 3 + 1 * -1, 2 * 2 * 0.5 + 1 * 0.5]]]]
    additive = AdditiveScore(1, 2, hidden=1)
    with torch.no_grad():
        additive.query_weight.copy_(torch.tensor([[[1.0], [0.0]]]))  # W_q q = q1
        additive.key_weight.copy_(torch.tensor([[[0.0], [1.0]]]))  # W_k k = k2
        additive.vector.copy_(torch.tensor([[2.0]]))  # w
    expected = [2 * math.tanh(1.0 + -1.0), 2 * math.tanh(1.0 + 0.5)]
    assert torch.allclose(additive(q, k)[0, 0, 0], torch.tensor(expected))


def test_untrained_bilinear_score_is_the_scaled_dot_product():
    q, k = torch.randn(2, 3, 4, 8), torch.randn(2, 3, 5, 8)
    assert torch.allclose(BilinearScore(3, 8)(q, k), scaled_dot_product_scores(q, k), atol=1e-6)


@pytest.mark.parametrize("score", SCORES)
def test_every_score_trains_a_causal_attention_with_finite_gradients(score):
    attention = mha(score=score, causal=True).train()
    x = torch.randn(2, 6, 16, requires_grad=True)
    out, _ = attention(x, mask=padding_mask(torch.tensor([[1] * 6, [1, 1, -1, -1, -1, -1]])))
    out.sum().backward()
    assert torch.isfinite(x.grad).all() and all(torch.isfinite(p.grad).all() for p in attention.parameters())


def test_multi_query_attention_equals_full_attention_with_shared_key_value_heads():
    """GQA/MQA: one key/value head serving every query head is multi-head attention whose K and V
    projections are the same for all heads; and its KV cache holds one head, not four."""
    mqa = mha(n_kv_head=1, causal=True)
    full = mha(causal=True)
    W_q, W_k, W_v = mqa.projection_weights()  # (16, 16), (4, 16), (4, 16)
    q_bias, k_bias, v_bias = mqa.qkv.bias.split([16, 4, 4])
    with torch.no_grad():
        full.qkv.weight.copy_(torch.cat([W_q, W_k.repeat(4, 1), W_v.repeat(4, 1)]))
        full.qkv.bias.copy_(torch.cat([q_bias, k_bias.repeat(4), v_bias.repeat(4)]))
        full.proj.load_state_dict(mqa.proj.state_dict())
    x = torch.randn(2, 6, 16)
    assert torch.allclose(mqa(x)[0], full(x)[0], atol=1e-6)
    cache = KVCache(1, 2, mqa.n_kv_head, mqa.head_dim, max_length=6)
    assert torch.allclose(mqa(x, cache=cache)[0], full(x)[0], atol=1e-6)
    assert cache.keys[0].shape == (2, 1, 6, 4)


def test_orthogonal_initialisation_puts_heads_in_orthogonal_subspaces():
    attention = mha(orthogonal_init=True)
    for weight in attention.projection_weights():  # (16, 16): rows orthonormal
        assert torch.allclose(weight @ weight.T, torch.eye(16), atol=1e-5)
    W_q = attention.projection_weights()[0]
    head_0, head_1 = W_q[:4], W_q[4:8]  # the rows of two different heads
    assert torch.allclose(head_0 @ head_1.T, torch.zeros(4, 4), atol=1e-5)


def test_configurations_that_cannot_work_are_refused():
    with pytest.raises(ValueError, match="divisible"):
        mha(n_embd=15)
    with pytest.raises(ValueError, match="multiple of n_kv_head"):
        mha(n_kv_head=3)


def test_shared_query_and_key_projections_would_make_attention_symmetric():
    """Why W_Q and W_K differ: with one matrix for both, score(i, j) = score(j, i) and each token's
    score with itself is a squared norm, so "who looks at whom" could not be one-directional."""
    attention = mha(score="dot")
    W_q, W_k, _ = attention.projection_weights()
    with torch.no_grad():
        W_k.copy_(W_q)
        attention.qkv.bias.zero_()
    x = torch.randn(1, 5, 16)
    q, k, _ = (attention.split_heads(t, 4) for t in attention.qkv(x).split(16, dim=2))
    scores = attention.score(q, k)  # (1, H, 5, 5)
    assert torch.allclose(scores, scores.transpose(-2, -1), atol=1e-6)
    assert torch.all(scores.diagonal(dim1=-2, dim2=-1) >= 0)
    with torch.no_grad():
        attention.init_orthogonal()  # separate matrices: no symmetry
    q, k, _ = (attention.split_heads(t, 4) for t in attention.qkv(x).split(16, dim=2))
    assert not torch.allclose(attention.score(q, k), attention.score(q, k).transpose(-2, -1), atol=1e-3)


def test_heads_split_the_width_so_more_heads_cost_no_more_parameters():
    count = lambda heads: sum(p.numel() for p in mha(n_head=heads).parameters())  # noqa: E731
    assert count(1) == count(2) == count(4) == count(8) == (16 * 48 + 48) + (16 * 16 + 16)  # W_QKV, W_O
