"""GPT-2 weights in and out of Hugging Face's layout: equal logits and equal greedy text both ways."""

import importlib.util
import json

import pytest
import torch

from lmlab.errors import UserError
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.interop.hf import (
    gpt_config_from_hf,
    gpt_config_to_hf,
    gpt_state_dict_from_hf,
    gpt_state_dict_to_hf,
    load_hf_gpt2,
    save_hf_gpt2,
)
from lmlab.models.gpt import GPT, GPTConfig

needs_transformers = pytest.mark.skipif(importlib.util.find_spec("transformers") is None,
                                        reason="transformers is not installed (pip install transformers)")

TINY = dict(vocab_size=96, n_positions=64, n_embd=32, n_layer=2, n_head=4)


def hf_tiny(attn_implementation="sdpa", tie_word_embeddings=True, **numerics):
    """A randomly initialised GPT2LMHeadModel, dropout off, wide init so greedy paths are not near-ties."""
    import transformers

    torch.manual_seed(0)
    config = transformers.GPT2Config(**TINY, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                                     initializer_range=0.1, bos_token_id=None, eos_token_id=None,
                                     tie_word_embeddings=tie_word_embeddings, attn_implementation=attn_implementation,
                                     **numerics)
    model = transformers.GPT2LMHeadModel(config).eval()
    assert model.config._attn_implementation == attn_implementation
    if not tie_word_embeddings:
        torch.nn.init.normal_(model.lm_head.weight, std=0.1)
    with torch.no_grad():  # non-trivial LayerNorm and bias parameters, so a swap would show
        for name, parameter in model.named_parameters():
            if parameter.dim() == 1:
                parameter.add_(0.1 * torch.randn_like(parameter))
    return model


def lmlab_tiny(tie_weights=True) -> GPT:
    torch.manual_seed(1)
    model = GPT(GPTConfig(vocab_size=96, block_size=64, n_layer=2, n_head=4, n_embd=32, tie_weights=tie_weights))
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    return model.eval()


def random_ids(batch=2, length=12):
    return torch.randint(0, 96, (batch, length), generator=torch.Generator().manual_seed(2))


# --- Hugging Face -> lmlab ------------------------------------------------------------------------
@needs_transformers
@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_imported_hf_model_gives_equal_logits(tmp_path, attn_implementation):
    hf = hf_tiny(attn_implementation)
    hf.save_pretrained(tmp_path)
    model = load_hf_gpt2(tmp_path)
    ids = random_ids()
    with torch.no_grad():
        expected = hf(ids).logits
        logits, _ = model(ids)
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=0)
    assert model.lm_head.weight is model.token_embedding.weight  # still tied after loading


@needs_transformers
def test_imported_untied_hf_model_gives_equal_logits(tmp_path):
    hf = hf_tiny(tie_word_embeddings=False)
    hf.save_pretrained(tmp_path)
    model = load_hf_gpt2(tmp_path)
    assert not model.config.tie_weights
    ids = random_ids()
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[0], hf(ids).logits, atol=1e-5, rtol=0)


@needs_transformers
@pytest.mark.parametrize("numerics", [dict(activation_function="gelu", layer_norm_epsilon=1e-2),
                                      dict(activation_function="relu", layer_norm_epsilon=1e-5)])
def test_other_activations_and_epsilons_import_and_export_exactly(tmp_path, numerics):
    hf = hf_tiny(**numerics)  # a large epsilon, so that ignoring it would show in the logits
    hf.save_pretrained(tmp_path / "hf")
    model = load_hf_gpt2(tmp_path / "hf")
    ids = random_ids()
    with torch.no_grad():
        torch.testing.assert_close(model(ids)[0], hf(ids).logits, atol=1e-5, rtol=0)
    save_hf_gpt2(model, tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["activation_function"] == numerics["activation_function"]
    assert saved["layer_norm_epsilon"] == numerics["layer_norm_epsilon"]


@needs_transformers
def test_state_dict_keys_with_or_without_transformer_prefix():
    hf = hf_tiny()
    with_prefix = hf.state_dict()
    without_prefix = {k.removeprefix("transformer."): v for k, v in with_prefix.items() if k != "lm_head.weight"}
    without_prefix["h.0.attn.bias"] = torch.ones(1, 1, 64, 64)  # buffers of old checkpoints are skipped
    without_prefix["h.0.attn.masked_bias"] = torch.tensor(-1e4)
    ids = random_ids()
    for state in (with_prefix, without_prefix):
        model = GPT(gpt_config_from_hf(hf.config.to_dict())).eval()
        model.load_state_dict(gpt_state_dict_from_hf(state))
        with torch.no_grad():
            torch.testing.assert_close(model(ids)[0], hf(ids).logits, atol=1e-5, rtol=0)


@needs_transformers
def test_greedy_continuation_equals_hf_generate(tmp_path):
    hf = hf_tiny()
    with torch.no_grad():  # strong positions: a tied random model otherwise repeats one token forever
        hf.transformer.wpe.weight.normal_(std=1.0)
    hf.save_pretrained(tmp_path)
    model = load_hf_gpt2(tmp_path)
    prompt = random_ids(batch=1, length=8)
    new = 40
    lmlab_tokens = torch.cat(list(generate(model, prompt, new, SamplingConfig(strategy="greedy"))), dim=1)
    with torch.no_grad():
        hf_out = hf.generate(prompt, attention_mask=torch.ones_like(prompt), do_sample=False, use_cache=True,
                             max_new_tokens=new, min_new_tokens=new, pad_token_id=0)
    assert lmlab_tokens.tolist() == hf_out[:, prompt.size(1):].tolist()
    assert len(set(lmlab_tokens[0].tolist())) > 1  # a real sequence, not one token repeated


# --- lmlab -> Hugging Face ------------------------------------------------------------------------
@needs_transformers
@pytest.mark.parametrize("tie_weights", [True, False])
def test_exported_model_loads_in_transformers_with_equal_logits(tmp_path, tie_weights):
    import transformers

    model = lmlab_tiny(tie_weights)
    save_hf_gpt2(model, tmp_path)
    hf = transformers.GPT2LMHeadModel.from_pretrained(tmp_path).eval()
    assert hf.config.tie_word_embeddings == tie_weights
    ids = random_ids()
    with torch.no_grad():
        torch.testing.assert_close(hf(ids).logits, model(ids)[0], atol=1e-5, rtol=0)


def test_export_then_import_round_trips(tmp_path):
    model = lmlab_tiny()
    save_hf_gpt2(model, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["model_type"] == "gpt2" and saved["architectures"] == ["GPT2LMHeadModel"]
    assert saved["activation_function"] == "gelu_new" and saved["layer_norm_epsilon"] == 1e-5
    assert (saved["n_layer"], saved["n_head"], saved["n_embd"], saved["n_positions"]) == (2, 4, 32, 64)
    loaded = load_hf_gpt2(tmp_path)
    assert loaded.config == model.config
    for (name, expected), (_, actual) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(expected, actual), name


def test_sharded_folders_load(tmp_path):
    from safetensors.torch import save_file

    model = lmlab_tiny()
    hf_state = gpt_state_dict_to_hf(model)
    names = sorted(hf_state)
    shards = {"model-00001-of-00002.safetensors": names[::2], "model-00002-of-00002.safetensors": names[1::2]}
    for shard, keys in shards.items():
        save_file({k: hf_state[k] for k in keys}, str(tmp_path / shard), metadata={"format": "pt"})
    weight_map = {k: shard for shard, keys in shards.items() for k in keys}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    (tmp_path / "config.json").write_text(json.dumps(gpt_config_to_hf(model.config)))
    ids = random_ids()
    with torch.no_grad():
        assert torch.equal(load_hf_gpt2(tmp_path)(ids)[0], model(ids)[0])
    (tmp_path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(UserError, match="model-00002-of-00002.safetensors is missing"):
        load_hf_gpt2(tmp_path)


def test_conv1d_weights_are_transposed():
    model = lmlab_tiny()
    hf_state = gpt_state_dict_to_hf(model)
    assert hf_state["transformer.h.0.attn.c_attn.weight"].shape == (32, 96)  # (in, out)
    assert hf_state["transformer.h.0.mlp.c_fc.weight"].shape == (32, 128)
    assert "lm_head.weight" not in hf_state  # tied: transformers ties it back to wte
    assert torch.equal(hf_state["transformer.h.1.mlp.c_proj.weight"], model.blocks[1].mlp.down.weight.T)
    assert gpt_config_from_hf(gpt_config_to_hf(model.config)) == model.config


# --- refusals -------------------------------------------------------------------------------------
def test_missing_and_corrupt_files_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_hf_gpt2(tmp_path / "nowhere")
    with pytest.raises(UserError, match="config.json is missing"):
        load_hf_gpt2(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(UserError, match="corrupt JSON"):
        load_hf_gpt2(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(gpt_config_to_hf(lmlab_tiny().config)))
    with pytest.raises(UserError, match="model.safetensors is missing"):
        load_hf_gpt2(tmp_path)
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(UserError, match="pickled"):
        load_hf_gpt2(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"\x00garbage")
    with pytest.raises(UserError, match="not a readable safetensors file"):
        load_hf_gpt2(tmp_path)


def test_weights_that_do_not_fit_the_config_are_user_errors(tmp_path):
    save_hf_gpt2(lmlab_tiny(), tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    (tmp_path / "config.json").write_text(json.dumps({**config, "n_embd": 64}))
    with pytest.raises(UserError, match="do not fit config.json"):
        load_hf_gpt2(tmp_path)


def test_unsupported_configs_and_keys_are_refused():
    good = gpt_config_to_hf(lmlab_tiny().config)
    for change, message in [({"model_type": "llama"}, "model_type"), ({"activation_function": "silu"}, "activation"),
                            ({"n_inner": 7}, "n_inner")]:
        with pytest.raises(UserError, match=message):
            gpt_config_from_hf({**good, **change})
    with pytest.raises(UserError, match="unexpected tensors"):
        gpt_state_dict_from_hf({"transformer.wte.weight": torch.zeros(3, 2),
                                "transformer.h.0.crossattention.q": torch.zeros(1)})
    for change in [dict(bias=False), dict(pos="rope"), dict(norm="rmsnorm"), dict(activation="swiglu"),
                   dict(n_kv_head=1), dict(fused_qkv=False), dict(norm_position="post")]:
        with pytest.raises(UserError, match="cannot be held by GPT2LMHeadModel"):
            gpt_config_to_hf(GPTConfig(vocab_size=8, n_head=2, n_embd=8, **change))
