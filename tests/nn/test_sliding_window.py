"""Sliding-window attention: the band mask, both attention paths, and the rolling KV cache."""

import math

import pytest
import torch

from lmlab.config import apply_overrides
from lmlab.errors import UserError
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.interop.hf import gpt_config_to_hf
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.attention import AttentionConfig, MultiHeadAttention
from lmlab.nn.masks import sliding_window_mask


def windowed(n_embd=16, n_head=4, window=3, path="sdpa", causal=True):
    return MultiHeadAttention(AttentionConfig(n_embd, n_head, causal=causal, path=path, attention_window=window)).eval()


def tiny_gpt(pos="learned", window=3, block_size=12, **options):
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=13, block_size=block_size, n_layer=2, n_head=2, n_embd=16, pos=pos,
                         attention_window=window, **options)).eval()


def test_the_band_by_hand():
    assert sliding_window_mask(4, 4, window=2).int().tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 1, 1, 0],
                                                                  [0, 0, 1, 1]]
    assert sliding_window_mask(1, 5, window=3).int().tolist() == [[0, 0, 1, 1, 1]]  # the last query, after a cache
    assert sliding_window_mask(3, 3, window=2, causal=False).int().tolist() == [[1, 1, 0], [1, 1, 1], [0, 1, 1]]


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
def test_windowed_attention_equals_a_softmax_over_the_band_by_hand(path):
    torch.manual_seed(0)
    attention, W, T, D = windowed(path=path), 3, 7, 4
    x = torch.randn(2, T, 16)
    q, k, v = (attention.split_heads(part, 4) for part in attention.qkv(x).split(16, dim=2))  # (B, H, T, D)
    rows = []
    for i in range(T):  # query i: softmax over keys max(0, i - W + 1) .. i only
        seen = slice(max(0, i - W + 1), i + 1)
        scores = q[:, :, i:i + 1] @ k[:, :, seen].transpose(-2, -1) / math.sqrt(D)
        rows.append(torch.softmax(scores, dim=-1) @ v[:, :, seen])
    expected = attention.proj(torch.cat(rows, dim=2).transpose(1, 2).reshape(2, T, 16))
    with torch.no_grad():
        assert torch.allclose(attention(x)[0], expected, atol=1e-6)


@pytest.mark.parametrize("causal", [True, False])
def test_explicit_path_equals_fused_path(causal):
    explicit = windowed(path="explicit", causal=causal)
    fused = windowed(path="sdpa", causal=causal)
    fused.load_state_dict(explicit.state_dict())
    x = torch.randn(2, 9, 16)
    with torch.no_grad():
        out, weights = explicit(x, need_weights=True)
        assert torch.allclose(out, fused(x)[0], atol=1e-6)
    assert torch.all(weights[..., ~sliding_window_mask(9, 9, 3, causal)] == 0)  # nothing outside the band


@pytest.mark.parametrize("path", ["explicit", "sdpa"])
def test_a_window_as_long_as_the_sequence_is_full_causal_attention(path):
    full = MultiHeadAttention(AttentionConfig(16, 4, causal=True, path=path)).eval()
    long_window, short_window = windowed(window=6, path=path), windowed(window=5, path=path)
    long_window.load_state_dict(full.state_dict())
    short_window.load_state_dict(full.state_dict())
    x = torch.randn(2, 6, 16)
    with torch.no_grad():
        assert torch.allclose(long_window(x)[0], full(x)[0], atol=1e-6)
        assert not torch.allclose(short_window(x)[0], full(x)[0], atol=1e-4)  # W = T - 1 hides one key


@pytest.mark.parametrize("pos", ["learned", "rope", "alibi"])
@pytest.mark.parametrize("path", ["explicit", "sdpa"])
def test_cached_decoding_equals_full_recomputation_and_the_cache_stays_within_the_window(pos, path):
    model, W = tiny_gpt(pos, window=3, attention=path), 3
    ids = torch.randint(0, 13, (2, 12))
    with torch.no_grad():
        full, _ = model(ids)
        cache = model.new_cache(2)
        steps = [model(ids[:, :5], cache=cache)[0]]  # a prefill longer than the window, then one at a time
        for t in range(5, 12):
            steps.append(model(ids[:, t:t + 1], cache=cache)[0])
            assert all(keys.size(2) <= W and values.size(2) <= W for keys, values in zip(cache.keys, cache.values))
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
    assert cache.length == 12  # the absolute position, though only W - 1 positions are stored


def test_generation_runs_past_block_size_when_positions_extrapolate():
    model = tiny_gpt("rope", window=4, block_size=8)
    cache = model.new_cache(1)
    assert cache.max_length is None and cache.keys[0].size(2) == 3
    prompt = torch.randint(0, 13, (1, 3))
    tokens = torch.cat(list(generate(model, prompt, 20, SamplingConfig(strategy="greedy"))), dim=1)
    sequence = torch.cat([prompt, tokens], dim=1)  # 23 tokens > block_size 8
    with torch.no_grad():
        logits, _ = model(sequence[:, :-1])  # one full pass: each greedy token is its argmax
    assert torch.equal(logits[0, 2:].argmax(-1), tokens[0])
    assert tiny_gpt("learned", window=4, block_size=8).new_cache(1).max_length == 8  # learned cannot slide


def test_bad_windows_are_refused_and_windowed_gpts_do_not_export_to_gpt2():
    config = GPTConfig(vocab_size=13)
    apply_overrides({"model": config}, ["attention_window=64"])
    assert config.attention_window == 64 and config.attention_config(causal=True).attention_window == 64
    config.attention_window = 0
    with pytest.raises(UserError, match="attention_window"):
        config.validate()
    with pytest.raises(UserError, match="attention_window=4"):
        gpt_config_to_hf(GPTConfig(vocab_size=13, attention_window=4))


def test_stacked_windows_reach_n_layer_times_w_minus_one_back_and_never_ahead():
    """Output t depends on inputs t - n_layer (W - 1) .. t exactly: the gradient is zero elsewhere."""
    model = tiny_gpt(window=4, block_size=16)
    captured = {}
    model.token_embedding.register_forward_hook(lambda module, args, out: captured.setdefault("x", out))
    logits, _ = model(torch.randint(0, 13, (1, 16)))
    gradient, = torch.autograd.grad(logits[0, 8].sum(), captured["x"])
    depends = (gradient[0].abs().sum(-1) > 0).tolist()
    assert depends == [s in range(8 - 2 * 3, 9) for s in range(16)]  # 2 layers x (W - 1) = 6 back
