"""A GPT with RoPE, RMSNorm and SwiGLU in and out of LlamaForCausalLM's layout: equal logits both ways."""

import json

import pytest
import torch

from lmlab.errors import UserError
from lmlab.interop.hf_llama import llama_config_from_hf, llama_config_to_hf, load_hf_llama, save_hf_llama
from lmlab.models.gpt import GPT, GPTConfig

transformers = pytest.importorskip("transformers", reason="transformers' LlamaForCausalLM is the reference")

LLAMA_PARTS = dict(pos="rope", norm="rmsnorm", activation="swiglu")


def lmlab_llama(**changes) -> GPT:
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=64, block_size=32, n_layer=2, n_head=4, n_embd=32, **LLAMA_PARTS, **changes))
    with torch.no_grad():  # non-trivial norm gains and biases, so a swapped tensor would show
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model.eval()


def ids(batch=2, length=20):
    return torch.randint(0, 64, (batch, length), generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("changes", [{}, dict(n_kv_head=2, bias=True, tie_weights=False),
                                     dict(n_kv_head=1, fused_qkv=False, norm_eps=1e-3)])
def test_exported_llama_has_lmlab_logits_in_transformers(tmp_path, changes):
    ours = lmlab_llama(**changes)
    save_hf_llama(ours, tmp_path)
    theirs = transformers.AutoModelForCausalLM.from_pretrained(str(tmp_path)).eval()
    assert type(theirs).__name__ == "LlamaForCausalLM"
    with torch.no_grad():
        torch.testing.assert_close(theirs(ids()).logits, ours(ids())[0], atol=1e-5, rtol=0)
    assert theirs.config.tie_word_embeddings == ours.config.tie_weights


def test_a_transformers_llama_imports_with_equal_logits(tmp_path):
    torch.manual_seed(0)
    config = transformers.LlamaConfig(vocab_size=64, hidden_size=48, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=32,
                                      rms_norm_eps=1e-5, tie_word_embeddings=False)
    theirs = transformers.LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for parameter in theirs.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    theirs.save_pretrained(tmp_path)
    ours = load_hf_llama(tmp_path)
    assert (ours.config.n_kv_head, ours.config.norm_eps, ours.config.tie_weights) == (2, 1e-5, False)
    with torch.no_grad():
        torch.testing.assert_close(ours(ids())[0], theirs(ids()).logits, atol=1e-5, rtol=0)


def test_configs_round_trip_and_the_unsupported_are_refused():
    config = lmlab_llama(n_kv_head=2).config
    hf = llama_config_to_hf(config)
    assert llama_config_from_hf(hf) == GPTConfig(**{**config.__dict__, "norm_eps": 1e-6})
    for change, message in [({"intermediate_size": 100}, "intermediate_size 100"),
                            ({"hidden_act": "gelu"}, "hidden_act 'gelu'"),
                            ({"rope_parameters": {"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0}}, "rope"),
                            ({"mlp_bias": not hf["attention_bias"]}, "attention_bias != mlp_bias")]:
        with pytest.raises(UserError, match=message):
            llama_config_from_hf({**hf, **change})
    with pytest.raises(UserError, match="LlamaForCausalLM cannot hold this GPT either .*norm='layernorm'"):
        llama_config_to_hf(GPTConfig(vocab_size=8, n_head=2, n_embd=8, pos="rope"))
    assert json.dumps(hf)  # plain JSON
