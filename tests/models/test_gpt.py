import math

import pytest
import torch

from lmlab.errors import UserError
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.tokenizers import CharTokenizer


def tiny_gpt(attention="sdpa", **overrides) -> GPT:
    torch.manual_seed(0)
    config = dict(vocab_size=37, block_size=24, n_layer=2, n_head=4, n_embd=32, attention=attention)
    config.update(overrides)
    return GPT(GPTConfig(**config)).eval()


@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
def test_cached_decoding_equals_full_recomputation(attention):
    model = tiny_gpt(attention)
    ids = torch.randint(0, 37, (3, 20))
    full_logits, _ = model(ids)
    cache = model.new_cache(batch_size=3)
    prefix_logits, _ = model(ids[:, :5], cache=cache)  # prefill 5 tokens, then one token at a time
    steps = [prefix_logits] + [model(ids[:, t : t + 1], cache=cache)[0] for t in range(5, 20)]
    assert cache.length == 20
    assert torch.allclose(torch.cat(steps, dim=1), full_logits, atol=1e-5)


@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
def test_changing_a_future_token_leaves_earlier_outputs_unchanged(attention):
    model = tiny_gpt(attention)
    ids = torch.randint(0, 37, (1, 16))
    changed = ids.clone()
    changed[0, 10] = (ids[0, 10] + 1) % 37
    before, _ = model(ids)
    after, _ = model(changed)
    assert torch.equal(before[:, :10], after[:, :10])  # positions before 10 never see token 10
    assert not torch.allclose(before[:, 10:], after[:, 10:])  # and the change is visible from 10 on


def test_explicit_and_fast_models_agree_with_same_weights():
    explicit, fast = tiny_gpt("explicit"), tiny_gpt("sdpa")
    fast.load_state_dict(explicit.state_dict())
    ids = torch.randint(0, 37, (2, 24))
    assert torch.allclose(explicit(ids)[0], fast(ids)[0], atol=1e-5)


def test_loss_is_cross_entropy_and_ignores_minus_one():
    model = tiny_gpt()
    ids = torch.randint(0, 37, (2, 8))
    targets = torch.randint(0, 37, (2, 8))
    targets[0, :4] = -1
    logits, loss = model(ids, targets)
    log_probs = torch.log_softmax(logits, -1)
    kept = targets != -1
    expected = -log_probs[kept].gather(1, targets[kept].unsqueeze(1)).mean()
    assert torch.allclose(loss, expected, atol=1e-6)
    # an untrained model is close to uniform over the vocabulary
    assert abs(model(ids, torch.randint(0, 37, (2, 8)))[1].item() - math.log(37)) < 0.3


def test_parameter_count_and_weight_tying():
    model = tiny_gpt()
    assert model.lm_head.weight is model.token_embedding.weight
    C, V, T, L = 32, 37, 24, 2
    per_block = 2 * (2 * C) + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C)
    assert model.num_parameters() == V * C + T * C + L * per_block + 2 * C
    assert model.num_parameters(include_embeddings=False) == L * per_block + 2 * C
    untied = tiny_gpt(tie_weights=False)
    assert untied.num_parameters() == model.num_parameters() + V * C


def test_gpt2_initialisation_scales_residual_projections():
    model = tiny_gpt(n_layer=8, n_embd=256, vocab_size=50, block_size=8)
    expected = 0.02 / math.sqrt(2 * 8)
    assert abs(model.blocks[0].attn.proj.weight.std().item() - expected) < 0.1 * expected
    assert abs(model.blocks[0].mlp.up.weight.std().item() - 0.02) < 0.002


def test_refuses_a_tokenizer_with_another_vocabulary_size():
    tokenizer = CharTokenizer().train(["abc"])  # 3 characters + 2 specials = 5
    model = tiny_gpt(vocab_size=tokenizer.vocab_size)
    model.check_tokenizer(tokenizer)
    with pytest.raises(UserError, match="tokenizer has 5 tokens but the model was built for 37"):
        tiny_gpt().check_tokenizer(tokenizer)


def test_sequences_longer_than_the_context_are_refused():
    with pytest.raises(ValueError, match="exceeds block_size"):
        tiny_gpt()(torch.zeros(1, 25, dtype=torch.long))


def test_attention_weights_are_causal_distributions():
    maps = tiny_gpt().attention_weights(torch.randint(0, 37, (1, 9)))
    assert len(maps) == 2 and maps[0].shape == (1, 4, 9, 9)
    assert torch.allclose(maps[1].sum(-1), torch.ones(1, 4, 9))
    assert torch.all(maps[0].triu(diagonal=1) == 0)


# --- interchangeable parts (lmlab.models.transformer) -------------------------------------------------
PARTS = [dict(pos=pos) for pos in ("sinusoidal", "relative", "t5", "rope", "alibi")] + [
    dict(norm="rmsnorm", activation="swiglu"), dict(norm_position="post", activation="relu"),
    dict(n_kv_head=1, pos="rope"), dict(n_kv_head=2, fused_qkv=False), dict(score="bilinear"),
    dict(score="dot", scale_embeddings=True), dict(orthogonal_init=True)]


@pytest.mark.parametrize("parts", PARTS, ids=lambda parts: ",".join(f"{k}={v}" for k, v in parts.items()))
@pytest.mark.parametrize("attention", ["explicit", "sdpa"])
def test_every_configuration_decodes_with_a_cache_exactly_and_stays_causal(parts, attention):
    model = tiny_gpt(attention, **parts)
    ids = torch.randint(0, 37, (2, 20))
    full_logits, _ = model(ids)
    cache = model.new_cache(batch_size=2)
    steps = [model(ids[:, :5], cache=cache)[0]] + [model(ids[:, t : t + 1], cache=cache)[0] for t in range(5, 20)]
    assert torch.allclose(torch.cat(steps, dim=1), full_logits, atol=1e-5)
    changed = ids.clone()
    changed[:, 12] = (ids[:, 12] + 1) % 37
    assert torch.allclose(model(changed)[0][:, :12], full_logits[:, :12], atol=1e-6)


@pytest.mark.parametrize("pos", ["sinusoidal", "relative", "t5", "rope", "alibi"])
def test_extrapolating_positions_run_beyond_block_size(pos):
    model = tiny_gpt(pos=pos)  # block_size 24
    ids = torch.randint(0, 37, (1, 60))
    logits, _ = model(ids)  # 60 positions at once
    assert logits.shape == (1, 60, 37) and torch.isfinite(logits).all()
    cache = model.new_cache(1, max_length=60)  # and one token at a time past position 24
    steps = [model(ids[:, :20], cache=cache)[0]] + [model(ids[:, t : t + 1], cache=cache)[0] for t in range(20, 60)]
    assert torch.allclose(torch.cat(steps, dim=1), logits, atol=1e-4)


def test_generation_continues_past_block_size_for_every_position_scheme():
    from lmlab.generate.sampling import SamplingConfig, generate

    for pos in ("learned", "rope", "alibi"):
        tokens = list(generate(tiny_gpt(pos=pos), torch.zeros(1, 1, dtype=torch.long), 60,
                               SamplingConfig(strategy="greedy")))
        assert len(tokens) == 60  # learned re-prefills a sliding window; the others could also extend


@pytest.mark.parametrize("bad, message", [
    (dict(n_kv_head=3), "n_kv_head"), (dict(pos="rope", n_embd=36, n_head=4), "must be even"),
    (dict(pos="sinusoidal", n_embd=33, n_head=3), "must be even"), (dict(n_embd=30), "divisible")])
def test_configurations_that_cannot_work_are_user_errors(bad, message):
    config = GPTConfig(**{**dict(vocab_size=37, block_size=24, n_layer=2, n_head=4, n_embd=32), **bad})
    with pytest.raises(UserError, match=message):
        config.validate()


def test_parts_that_change_the_parameter_count():
    base = tiny_gpt().num_parameters()
    C, L = 32, 2
    assert tiny_gpt(pos="rope").num_parameters() == base - 24 * C  # no position table
    assert tiny_gpt(pos="t5").num_parameters() == base - 24 * C + 32 * 4  # 32 buckets x 4 heads
    assert tiny_gpt(n_kv_head=1).num_parameters() == base - L * 2 * (C * (C - 8) + (C - 8))  # K, V: 1 head of 8
    assert tiny_gpt(norm="rmsnorm").num_parameters() == base - (2 * L + 1) * C  # no shift


def test_orthogonal_init_changes_the_directions_of_the_heads_not_their_size():
    torch.manual_seed(0)
    C = 64
    model = GPT(GPTConfig(vocab_size=10, n_layer=1, n_head=4, n_embd=C, block_size=8, orthogonal_init=True))
    W_q = model.blocks[0].attn.projection_weights()[0]  # (C, C)
    assert torch.allclose(W_q @ W_q.T, (0.02**2 * C) * torch.eye(C), atol=1e-6)  # orthogonal rows
    torch.manual_seed(0)
    default = GPT(GPTConfig(vocab_size=10, n_layer=1, n_head=4, n_embd=C, block_size=8))
    row_norms = default.blocks[0].attn.projection_weights()[0].norm(dim=1)
    assert abs(row_norms.mean().item() / (0.02 * C**0.5) - 1) < 0.05  # the N(0, 0.02^2) rows it replaces
