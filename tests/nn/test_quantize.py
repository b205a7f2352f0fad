"""Weight-only compression: int8 per row by hand, the rounding bound |w - w'| <= scale / 2, bf16 as
torch rounds it, tied weights stored once, and a run folder's compressed weights loading back."""

import pytest
import torch

from lmlab.errors import UserError
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn import quantize
from lmlab.nn.quantize import SCALE, compress_state, dequantize_rows, expand_state, quantize_rows
from lmlab.train.checkpoint import RunFolder


def tiny_gpt(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))


def test_quantize_rows_by_hand():
    weight = torch.tensor([[1.0, -0.5, 0.25, 0.0],  # scale 1/127: q = 127, -63.5 -> -64 (half to even), 31.75 -> 32
                           [0.0, 0.0, 0.0, 0.0],  # an all-zero row: scale 1, q = 0
                           [-2.54, 1.27, 0.01, 2.0]])  # scale 0.02: q = -127, 63.5 -> 64, 0.5 -> 0, 100
    q, scale = quantize_rows(weight)
    assert q.dtype == torch.int8 and scale.dtype == torch.float32
    assert scale.tolist() == pytest.approx([1 / 127, 1.0, 0.02])
    assert q.tolist() == [[127, -64, 32, 0], [0, 0, 0, 0], [-127, 64, 0, 100]]
    assert dequantize_rows(q, scale)[0].tolist() == pytest.approx([1.0, -64 / 127, 32 / 127, 0.0])


def test_reconstruction_error_is_at_most_half_a_step_of_each_row():
    torch.manual_seed(0)
    weight = torch.randn(64, 48) * torch.logspace(-3, 1, 64)[:, None]  # rows of very different sizes
    weight[5, 7] = 40.0  # an outlier coarsens its own row only
    q, scale = quantize_rows(weight)
    error = (weight - dequantize_rows(q, scale)).abs()  # (64, 48)
    assert (error <= scale[:, None] / 2 * (1 + 1e-5)).all()
    assert q.abs().max() == 127 and (q.abs().amax(dim=1) == 127).all()  # every row uses the full range
    assert error[6].max() < error[5].max() / 10  # the next row is not coarsened by row 5's outlier


def test_compressed_state_stores_tied_weights_once_and_expands_back():
    model = tiny_gpt()
    state = model.state_dict()
    stored = compress_state(state, "int8")
    assert "lm_head.weight" not in stored and "token_embedding.weight" in stored  # tied: one copy
    assert stored["blocks.0.attn.qkv.weight"].dtype == torch.int8
    assert stored["blocks.0.attn.qkv.bias"].dtype == torch.float32  # vectors stay float32
    assert stored["blocks.0.attn.qkv.weight" + SCALE].shape == (24,)  # one scale per output channel
    expanded = expand_state(stored)
    assert set(expanded) == set(state) - {"lm_head.weight"}
    q, scale = quantize_rows(state["blocks.0.mlp.up.weight"])
    assert torch.equal(expanded["blocks.0.mlp.up.weight"], dequantize_rows(q, scale))
    bf16 = compress_state(state, "bf16")
    assert all(t.dtype == torch.bfloat16 for t in bf16.values())
    assert torch.equal(bf16["ln_f.weight"], state["ln_f.weight"].to(torch.bfloat16))
    with pytest.raises(ValueError, match="dtype"):
        compress_state(state, "int4")


@pytest.mark.parametrize("dtype", ["int8", "bf16"])
def test_a_run_folder_loads_its_compressed_weights_back(tmp_path, dtype):
    model, run = tiny_gpt(0), RunFolder(tmp_path)
    run.save_compressed(model, dtype, step=3)
    loaded = tiny_gpt(1)
    run.load_compressed(loaded, dtype)
    assert run.model_step() == 3
    assert loaded.lm_head.weight is loaded.token_embedding.weight  # still tied
    assert loaded.lm_head.weight.dtype == (torch.bfloat16 if dtype == "bf16" else torch.float32)
    state = loaded.state_dict()
    for name, original in model.state_dict().items():
        if name in state:
            restored = state[name].float()
        else:  # a Linear that now computes with the int8 kernel: its weight is q * scale
            module = loaded.get_submodule(name.rpartition(".")[0])
            restored = dequantize_rows(module.q, module.scale)
        if dtype == "bf16":
            assert torch.equal(restored, original.to(torch.bfloat16).float()), name
        elif original.dim() == 2:
            assert (restored - original).abs().max() <= original.abs().max() / 254 * (1 + 1e-5), name
        else:
            assert torch.equal(restored, original), name


def test_compressed_weights_of_another_model_are_refused_by_name(tmp_path):
    run = RunFolder(tmp_path)
    run.save_compressed(tiny_gpt(), "int8", step=1)
    other = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8))
    with pytest.raises(UserError, match="do not fit the model"):
        run.load_compressed(other, "int8")


needs_int8_kernel = pytest.mark.skipif(not quantize.int8_kernel_usable(torch.nn.Linear(16, 1)),
                                       reason="torch's int8 weight-only kernel needs a CPU with native bf16")


@needs_int8_kernel
def test_int8_linear_computes_the_dequantized_product_within_bf16_rounding():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 50)
    q, scale = quantize_rows(linear.weight)
    x = torch.randn(3, 5, 64)  # (B, T, in)
    expected = torch.nn.functional.linear(x, dequantize_rows(q, scale), linear.bias)  # (B, T, out)
    got = quantize.Int8Linear(q, scale, linear.bias)(x)
    assert got.shape == expected.shape and got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0.02, atol=0.02 * expected.abs().max().item())


@needs_int8_kernel
def test_int8_kernels_replace_the_linears_they_can_run_and_keep_the_logits(tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=40, block_size=8, n_layer=1, n_head=2, n_embd=32, dropout=0.0)).eval()
    stored = compress_state(model.state_dict(), "int8")
    dequantized = GPT(model.config).eval()
    dequantized.load_state_dict(expand_state(stored), strict=False)
    fast = GPT(model.config).eval()
    fast.load_state_dict(expand_state(stored), strict=False)
    assert quantize.use_int8_kernels(fast, stored) == 4 + 1  # qkv, proj, up, down (in 32 or 128) and the tied head
    assert isinstance(fast.lm_head, quantize.Int8Linear) and torch.equal(fast.lm_head.q, stored["token_embedding.weight"])
    ids = torch.randint(0, 40, (2, 8))
    expected, got = dequantized(ids)[0], fast(ids)[0]
    torch.testing.assert_close(got, expected, rtol=0.03, atol=0.03 * expected.abs().max().item())


def test_a_linear_whose_inner_size_is_not_a_multiple_of_16_keeps_float32_weights():
    assert not quantize.int8_kernel_usable(torch.nn.Linear(24, 8))  # the kernel's numbers are wrong there
