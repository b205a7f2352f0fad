"""The feed-forward, recurrent and convolutional language models: the contract every family keeps
(causality, incremental decoding equal to full recomputation, the loss) and each one's own idea."""

import numpy as np
import pytest
import torch

from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.models.cnn_lm import CNNLM, CNNLMConfig
from lmlab.models.ffnn_lm import FFNNLM, FFNNLMConfig
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.nn.conv import CausalConv1d, receptive_field

V = 23


def build(family: str, **overrides):
    torch.manual_seed(0)
    if family == "ffnn":
        model = FFNNLM(FFNNLMConfig(vocab_size=V, context=4, n_embd=8, n_hidden=16, **overrides))
    elif family == "cnn":
        model = CNNLM(CNNLMConfig(vocab_size=V, n_embd=16, n_layer=3, kernel_size=3, **overrides))
    else:
        model = RNNLM(RNNLMConfig(vocab_size=V, cell=family, n_embd=8, n_hidden=16, n_layer=2, **overrides))
    return model.eval()


FAMILIES = ["ffnn", "cnn", "rnn", "lstm", "gru"]


@pytest.mark.parametrize("family", FAMILIES)
def test_no_output_depends_on_a_later_input(family):
    model = build(family)
    ids = torch.randint(0, V, (2, 20))
    changed = ids.clone()
    changed[:, 12] = (ids[:, 12] + 1) % V
    before, after = model(ids)[0], model(changed)[0]
    assert torch.equal(before[:, :12], after[:, :12])
    assert not torch.allclose(before[:, 12], after[:, 12])


@pytest.mark.parametrize("family", FAMILIES)
def test_incremental_decoding_equals_full_recomputation(family):
    model = build(family)
    ids = torch.randint(0, V, (3, 30))  # longer than the CNN's receptive field (15)
    full, _ = model(ids)
    cache = model.new_cache(3)
    steps = [model(ids[:, :7], cache=cache)[0]] + [model(ids[:, t : t + 1], cache=cache)[0] for t in range(7, 30)]
    assert cache.length == 30 and cache.max_length is None
    assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_greedy_generation_equals_argmax_of_full_recomputation_and_runs_past_any_block(family):
    model = build(family, block_size=8)
    prompt = torch.tensor([[1, 2, 3]])
    tokens = torch.cat(list(generate(model, prompt, 20, SamplingConfig(strategy="greedy"))), dim=1)
    sequence = prompt
    for _ in range(20):
        sequence = torch.cat([sequence, model(sequence)[0][:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(tokens, sequence[:, 3:])


@pytest.mark.parametrize("family", FAMILIES)
def test_loss_is_cross_entropy_and_starts_near_log_v(family):
    model = build(family)
    ids, targets = torch.randint(0, V, (2, 10)), torch.randint(0, V, (2, 10))
    targets[0, :3] = -1
    logits, loss = model(ids, targets)
    expected = torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten(), ignore_index=-1)
    assert torch.allclose(loss, expected) and abs(loss.item() - np.log(V)) < 0.5


def test_ffnn_is_bengio_with_hand_counted_parameters():
    m, h, n = 8, 16, 4  # embedding size, hidden units, context
    model = build("ffnn")
    table = (V + 1) * m  # + the padding row
    assert model.num_parameters() == table + (n * m * h + h) + (h * V + V) + n * m * V
    assert model.num_parameters(include_embeddings=False) == model.num_parameters() - table
    without_direct = build("ffnn", direct=False)
    assert model.num_parameters() - without_direct.num_parameters() == n * m * V
    # position t sees exactly tokens t-3..t: a change 4 positions back does nothing
    ids = torch.randint(0, V, (1, 12))
    changed = ids.clone()
    changed[0, 2] = (ids[0, 2] + 1) % V
    assert torch.equal(model(ids)[0][:, 6:], model(changed)[0][:, 6:])
    assert not torch.allclose(model(ids)[0][:, 5], model(changed)[0][:, 5])


def test_cnn_receptive_field_is_reported_and_exact():
    assert receptive_field(3, [1, 2, 4]) == 15 and receptive_field(2, [1, 1, 1, 1]) == 5
    model = build("cnn")  # kernel 3, dilations 1, 2, 4
    assert model.receptive_field == 15
    ids = torch.randint(0, V, (1, 40))
    base = model(ids)[0]
    for position in range(40):  # which inputs move output 30?
        changed = ids.clone()
        changed[0, position] = (ids[0, position] + 1) % V
        moved = not torch.allclose(model(changed)[0][0, 30], base[0, 30])
        assert moved == (30 - 15 < position <= 30), position
    plain = CNNLM(CNNLMConfig(vocab_size=V, n_embd=8, n_layer=3, kernel_size=3, dilation_base=1))
    assert plain.receptive_field == 7


def test_causal_conv_pads_on_the_left_only():
    conv = CausalConv1d(1, 1, kernel_size=2, dilation=3)
    with torch.no_grad():
        conv.weight[:] = torch.tensor([[[10.0, 1.0]]])  # y_t = 10 x_{t-3} + x_t
        conv.bias.zero_()
    x = torch.arange(1.0, 7.0).view(1, 1, 6)
    assert conv(x).flatten().tolist() == [1, 2, 3, 4 + 10, 5 + 20, 6 + 30]


def test_rnn_lm_lstm_forget_bias_and_carried_states_round_trip_through_the_state_dict():
    model = build("lstm")
    assert torch.all(model.rnn.bias_ih_l1[16:32] == 1.0)
    assert model.get_extra_state().numel() == 0
    ids = torch.randint(0, V, (2, 5))
    model(ids, cache=model.carried_state(1))  # slot 0 never used: saved as zeros
    state = model.state_dict()
    copy = build("lstm")
    copy.load_state_dict(state)
    assert len(copy.carried) == 2 and copy.carried[0].hidden[0].abs().sum() == 0
    assert torch.equal(copy.carried[1].hidden[1], model.carried[1].hidden[1])
    next_ids = torch.randint(0, V, (2, 4))
    assert torch.allclose(copy(next_ids, cache=copy.carried_state(1))[0],
                          model(next_ids, cache=model.carried_state(1))[0])
    model.reset_carried()
    assert model.get_extra_state().numel() == 0


def test_the_written_out_loop_and_the_fused_kernel_give_one_model():
    fast, slow = build("gru"), build("gru", fast=False)
    slow.load_state_dict(fast.state_dict())
    ids = torch.randint(0, V, (2, 9))
    assert torch.allclose(fast(ids)[0], slow(ids)[0], atol=1e-5)
