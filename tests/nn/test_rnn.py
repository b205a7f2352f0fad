"""Recurrent layers from scratch against torch.nn.RNN/LSTM/GRU, and the vanishing gradient, measured."""

import math

import pytest
import torch
import torch.nn as nn

from lmlab.nn.rnn import STEPS, Recurrent, RecurrentState, recorded_states

TORCH = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def _pair(cell, layers, bidirectional):
    torch.manual_seed(0)
    reference = TORCH[cell](5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    ours = Recurrent(cell, 5, 7, num_layers=layers, bidirectional=bidirectional, fast=False)
    ours.load_state_dict(reference.state_dict())  # same names, same shapes: copied weights
    return reference, ours


def _initial_state(cell, layers, bidirectional, batch):
    shape = (layers * (2 if bidirectional else 1), batch, 7)
    return (torch.randn(shape), torch.randn(shape)) if cell == "lstm" else torch.randn(shape)


def _flat(state):
    return torch.cat([s.flatten() for s in state]) if isinstance(state, tuple) else state.flatten()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("layers, bidirectional", [(1, False), (2, False), (2, True)])
@pytest.mark.parametrize("fast", [False, True])
def test_equals_torch_outputs_states_and_gradients(cell, layers, bidirectional, fast):
    reference, ours = _pair(cell, layers, bidirectional)
    ours.fast = fast
    x = torch.randn(3, 6, 5)
    state = _initial_state(cell, layers, bidirectional, 3)
    x_ref, x_ours = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ref, state_ref = reference(x_ref, state)
    out_ours, state_ours = ours(x_ours, state)
    assert out_ours.shape == (3, 6, 7 * (2 if bidirectional else 1))
    assert torch.allclose(out_ours, out_ref, atol=1e-5)
    assert torch.allclose(_flat(state_ours), _flat(state_ref), atol=1e-5)
    # a loss that touches every output and the final state
    weights = torch.randn_like(out_ref)
    ((out_ref * weights).sum() + _flat(state_ref).sum()).backward()
    ((out_ours * weights).sum() + _flat(state_ours).sum()).backward()
    assert torch.allclose(x_ours.grad, x_ref.grad, atol=1e-5)
    for name, parameter in reference.named_parameters():
        assert torch.allclose(getattr(ours, name).grad, parameter.grad, atol=1e-5), name


def test_zero_initial_state_is_the_default_and_dropout_acts_between_layers_only():
    reference, ours = _pair("gru", 2, False)
    x = torch.randn(2, 4, 5)
    assert torch.allclose(ours(x)[0], reference(x)[0], atol=1e-5)
    dropping = Recurrent("lstm", 5, 7, num_layers=2, dropout=0.5, fast=False).train()
    first, second = dropping(x)[0], dropping(x)[0]
    assert not torch.allclose(first, second)  # dropout is active in training
    dropping.eval()
    assert torch.allclose(dropping(x)[0], dropping(x)[0])  # and off in evaluation
    single = Recurrent("lstm", 5, 7, num_layers=1, dropout=0.5, fast=False).train()
    assert torch.allclose(single(x)[0], single(x)[0])  # nothing between layers when there is one


def test_the_fast_path_has_no_parameters_of_its_own():
    layer = Recurrent("lstm", 5, 7, num_layers=2, bidirectional=True)
    names = {name for name, _ in layer.named_parameters()}
    assert names == set(dict(nn.LSTM(5, 7, 2, bidirectional=True).named_parameters()))
    assert set(layer.state_dict()) == names


def test_recurrent_state_continues_a_sequence_exactly():
    _, layer = _pair("lstm", 2, False)
    x = torch.randn(2, 10, 5)
    full, _ = layer(x)
    state = RecurrentState()
    pieces = []
    for chunk in x.split([4, 1, 5], dim=1):
        out, hidden = layer(chunk, state.hidden)
        state.update(hidden, chunk.size(1))
        pieces.append(out)
    assert state.length == 10 and not state.hidden[0].requires_grad
    assert torch.allclose(torch.cat(pieces, dim=1), full, atol=1e-6)


def _gradient_by_distance(cell: str, forget_bias: float, seed: int, steps: int = 60) -> torch.Tensor:
    """|d loss / d x_t| for t = T-1, T-2, ...: how much an input `distance` steps back still matters."""
    torch.manual_seed(seed)
    layer = Recurrent(cell, 8, 32)
    if forget_bias:
        with torch.no_grad():
            layer.bias_ih_l0[32:64] += forget_bias  # LSTM rows i, f, g, o: the forget gate's bias
    x = torch.randn(4, steps, 8, requires_grad=True)
    out, _ = layer(x)
    out[:, -1].pow(2).sum().backward()  # a loss on the last step only
    return x.grad.norm(dim=(0, 2)).flip(0)  # index = distance from the last step


def test_vanishing_gradient_rnn_decays_much_faster_than_lstm():
    """The notes' argument, measured: the Elman RNN multiplies the gradient by W_hh^T diag(tanh')
    at every step back; the LSTM's cell path multiplies it by the forget gate, near 1 with a
    forget bias of 1 (Gers et al. 2000; what lmlab's LSTM language model uses)."""
    for seed in range(3):
        rnn = _gradient_by_distance("rnn", 0.0, seed)
        lstm = _gradient_by_distance("lstm", 1.0, seed)
        rnn_ratio, lstm_ratio = (rnn[40] / rnn[0]).item(), (lstm[40] / lstm[0]).item()
        assert rnn_ratio < 1e-8 and lstm_ratio > 1e-5 and lstm_ratio > 1e4 * rnn_ratio
        # per-step decay rate from a straight-line fit of log |grad| against distance
        distance = torch.arange(1, 41, dtype=torch.float64)
        rate = lambda g: torch.linalg.lstsq(  # noqa: E731
            torch.stack([distance, torch.ones_like(distance)], 1), g[1:41].double().log()[:, None]).solution[0, 0]
        assert math.exp(rate(rnn)) < 0.65 < 0.8 < math.exp(rate(lstm))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_recorded_states_are_the_outputs_and_give_the_total_gradient(cell):
    """Each recorded h_t is output t; its gradient is the full dL/dh_t, checked against a finite
    difference of h_t pushed through the rest of the sequence, which only the recorded node allows."""
    torch.manual_seed(0)
    layer = Recurrent(cell, 5, 7, num_layers=2).double()  # fast=True: recording must take the loop anyway
    x = torch.randn(2, 6, 5, dtype=torch.double)
    with recorded_states(layer) as recorded:
        out, _ = layer(x)
    assert layer.recording is None and [len(r) for r in recorded] == [6, 6]
    top = [s[0] if cell == "lstm" else s for s in recorded[1]]
    assert torch.allclose(torch.stack(top, dim=1), out)
    weights = torch.randn_like(out)
    loss = (out * weights).sum()
    t = 2
    h_t = recorded[1][t][0] if cell == "lstm" else recorded[1][t]
    (grad,) = torch.autograd.grad(loss, [h_t])
    assert not torch.allclose(grad, weights[:, t])  # more than the direct path from output t
    # finite difference: rerun steps t+1.. of the top layer from a nudged h_t
    params = [getattr(layer, name + "_l1") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    below = torch.stack([s[0] if cell == "lstm" else s for s in recorded[0]], dim=1)  # the top layer's inputs

    def rest_of_loss(h):
        carry = (h, recorded[1][t][1]) if cell == "lstm" else h
        total = (h * weights[:, t]).sum() + (out[:, :t] * weights[:, :t]).sum()
        for step in range(t + 1, 6):
            carry = STEPS[cell](below[:, step], carry, *params)
            total = total + ((carry[0] if cell == "lstm" else carry) * weights[:, step]).sum()
        return total

    direction, eps = torch.randn_like(h_t), 1e-6
    numeric = (rest_of_loss(h_t + eps * direction) - rest_of_loss(h_t - eps * direction)) / (2 * eps)
    assert numeric.item() == pytest.approx((grad * direction).sum().item(), rel=1e-6)
