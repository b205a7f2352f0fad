"""The Transformer block: pre- and post-norm residual sublayers, MLP activations."""

import torch
import torch.nn.functional as F

from lmlab.nn.attention import AttentionConfig
from lmlab.nn.block import TransformerBlock
from lmlab.nn.mlp import MLP, mlp_hidden


def block(**options) -> TransformerBlock:
    torch.manual_seed(0)
    return TransformerBlock(AttentionConfig(16, 4, causal=True), **options).eval()


def test_pre_norm_adds_each_sublayer_to_the_residual_stream():
    b, x = block(pre_norm=True), torch.randn(2, 5, 16)
    h = x + b.attn(b.ln_1(x))[0]
    expected = h + b.mlp(b.ln_2(h))
    assert torch.allclose(b(x)[0], expected, atol=1e-6)


def test_post_norm_normalises_each_sum_so_its_output_is_normalised():
    b, x = block(pre_norm=False), 5 * torch.randn(2, 5, 16)
    h = b.ln_1(x + b.attn(x)[0])
    expected = b.ln_2(h + b.mlp(h))
    out = b(x)[0]
    assert torch.allclose(out, expected, atol=1e-6)
    assert torch.allclose(out.mean(-1), torch.zeros(2, 5), atol=1e-5)  # LayerNorm with its initial gain
    assert torch.allclose(out.var(-1, unbiased=False), torch.ones(2, 5), atol=1e-3)


def test_decoder_block_has_cross_attention_between_self_attention_and_mlp():
    b, x, memory = block(cross=True), torch.randn(2, 5, 16), torch.randn(2, 3, 16)
    h = x + b.attn(b.ln_1(x))[0]
    h = h + b.cross_attn(b.ln_cross(h), memory)[0]
    out, maps = b(x, memory=memory, need_weights=True)
    assert torch.allclose(out, h + b.mlp(b.ln_2(h)), atol=1e-6)
    assert maps["self"].shape == (2, 4, 5, 5) and maps["cross"].shape == (2, 4, 5, 3)


def test_mlp_activations_relu_gelu_and_swiglu():
    torch.manual_seed(0)
    x = torch.randn(3, 8)
    relu, gelu, swiglu = (MLP(8, 32, activation=a) for a in ("relu", "gelu", "swiglu"))
    assert torch.allclose(relu(x), relu.down(torch.relu(relu.up(x))))
    assert torch.allclose(gelu(x), gelu.down(F.gelu(gelu.up(x), approximate="tanh")))
    assert torch.allclose(swiglu(x), swiglu.down(F.silu(swiglu.gate(x)) * swiglu.up(x)))


def test_swiglu_gets_two_thirds_of_the_units_to_keep_the_parameter_count():
    assert mlp_hidden(384, "gelu") == 1536 and mlp_hidden(384, "swiglu") == 1024
    count = lambda activation: sum(p.numel() for p in MLP(384, mlp_hidden(384, activation), bias=False,  # noqa: E731
                                                          activation=activation).parameters())
    assert count("swiglu") == count("gelu")


def test_without_the_residual_each_sublayer_replaces_the_stream():
    x = torch.randn(2, 5, 16)
    pre, post = block(pre_norm=True, residual=False), block(pre_norm=False, residual=False)
    h = pre.attn(pre.ln_1(x))[0]
    assert torch.allclose(pre(x)[0], pre.mlp(pre.ln_2(h)), atol=1e-6)
    h = post.ln_1(post.attn(x)[0])
    assert torch.allclose(post(x)[0], post.ln_2(post.mlp(h)), atol=1e-6)


def test_norm_none_is_the_identity():
    b, x = block(norm="none"), torch.randn(2, 5, 16)
    h = x + b.attn(x)[0]
    assert torch.allclose(b(x)[0], h + b.mlp(h), atol=1e-6)
