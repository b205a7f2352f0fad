"""LayerNorm and RMSNorm against PyTorch's, BatchNorm against BatchNorm1d, and why not BatchNorm."""

import pytest
import torch

from lmlab.models.gpt import GPT, GPTConfig
from lmlab.nn.norm import BatchNorm, LayerNorm, RMSNorm, layer_norm, rms_norm


@pytest.mark.parametrize("explicit", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_layer_norm_equals_torch(explicit, bias):
    torch.manual_seed(0)
    ours, reference = LayerNorm(12, bias=bias, explicit=explicit), torch.nn.LayerNorm(12, bias=bias)
    with torch.no_grad():
        reference.weight.normal_()
        ours.weight.copy_(reference.weight)
        if bias:
            reference.bias.normal_()
            ours.bias.copy_(reference.bias)
    x = 3 * torch.randn(4, 5, 12) + 1
    assert torch.allclose(ours(x), reference(x), atol=1e-5)


@pytest.mark.parametrize("explicit", [True, False])
def test_rms_norm_equals_torch(explicit):
    torch.manual_seed(0)
    ours, reference = RMSNorm(12, eps=1e-6, explicit=explicit), torch.nn.RMSNorm(12, eps=1e-6)
    with torch.no_grad():
        reference.weight.normal_()
        ours.weight.copy_(reference.weight)
    x = 3 * torch.randn(4, 5, 12) + 1
    assert torch.allclose(ours(x), reference(x), atol=1e-5)


def test_the_written_out_formulas_on_a_hand_checked_row():
    x = torch.tensor([[1.0, 3.0]])  # mean 2, variance 1, mean square 5
    assert torch.allclose(layer_norm(x, torch.ones(2), None, eps=0.0), torch.tensor([[-1.0, 1.0]]))
    assert torch.allclose(rms_norm(x, torch.ones(2), eps=0.0), x / 5**0.5)


def test_batch_norm_equals_torch_batch_norm_in_training_and_inference():
    torch.manual_seed(0)
    ours, reference = BatchNorm(6), torch.nn.BatchNorm1d(6)
    for _ in range(3):  # training: batch statistics, and running averages updated alike
        x = 2 * torch.randn(4, 7, 6) + 3  # (B, T, C); BatchNorm1d wants (B, C, T)
        assert torch.allclose(ours(x), reference(x.transpose(1, 2)).transpose(1, 2), atol=1e-5)
    assert torch.allclose(ours.running_mean, reference.running_mean, atol=1e-6)
    assert torch.allclose(ours.running_var, reference.running_var, atol=1e-5)
    ours.eval(), reference.eval()
    x = torch.randn(2, 3, 6)
    assert torch.allclose(ours(x), reference(x.transpose(1, 2)).transpose(1, 2), atol=1e-5)


def test_layer_norm_is_per_token_but_batch_norm_mixes_the_batch():
    """The reason Transformers use LayerNorm: a token's output must not depend on other sentences."""
    torch.manual_seed(0)
    x, other = torch.randn(1, 4, 6), torch.randn(1, 4, 6)
    layer, batch = LayerNorm(6), BatchNorm(6)
    assert torch.allclose(layer(x), layer(torch.cat([x, other]))[:1])
    assert not torch.allclose(batch(x), batch(torch.cat([x, other]))[:1])


def test_batch_norm_in_a_causal_decoder_leaks_the_future():
    """Batch statistics pool every position, future ones included: changing token 10 changes the
    outputs at positions 0..9 of a GPT built with BatchNorm (while training). LayerNorm's do not."""
    def outputs(norm, ids):
        torch.manual_seed(0)
        model = GPT(GPTConfig(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=8, norm=norm)).train()
        return model(ids)[0]
    ids = torch.randint(0, 20, (2, 16))
    changed = ids.clone()
    changed[:, 10] = (ids[:, 10] + 1) % 20
    assert torch.allclose(outputs("layernorm", ids)[:, :10], outputs("layernorm", changed)[:, :10])
    assert not torch.allclose(outputs("batchnorm", ids)[:, :10], outputs("batchnorm", changed)[:, :10])
