"""Beam search: greedy at one beam, score order, the toy case greedy gets wrong, batching, bookkeeping."""

import math

import pytest
import torch

from lmlab.errors import UserError
from lmlab.generate.beam import BeamConfig, beam_search, length_penalty
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.models.gpt import GPT, GPTConfig

EOS, A, B, C, D = range(5)
TOY = {  # P(next | generated so far): greedy takes A (0.5) and ends with A B (0.5 * 0.4 = 0.2)
    (): {A: 0.5, C: 0.4, EOS: 0.1},
    (A,): {B: 0.4, D: 0.3, EOS: 0.3},
    (C,): {D: 0.9, EOS: 0.1},  # ... but C D has probability 0.4 * 0.9 = 0.36
}


class ToyCache:
    def __init__(self, rows: int, max_length: int) -> None:
        self.generated, self.length, self.max_length = [[] for _ in range(rows)], 0, max_length

    def reorder(self, rows: torch.Tensor) -> None:
        self.generated = [list(self.generated[r]) for r in rows.tolist()]


class ToyModel:
    """A lookup table as a language model: the distribution of the next token given the tokens
    generated after the prompt (the prompt itself is ignored); anything unlisted ends."""

    def new_cache(self, batch_size, max_length=None):
        return ToyCache(batch_size, max_length or 10)

    def __call__(self, ids, targets=None, cache=None):
        if cache.length:  # a decoding step: remember the new token
            for row, token in zip(cache.generated, ids[:, -1].tolist()):
                row.append(token)
        cache.length += ids.size(1)
        logits = torch.full((ids.size(0), ids.size(1), 5), -1e9)
        for i, row in enumerate(cache.generated):
            for token, p in TOY.get(tuple(row), {EOS: 1.0}).items():
                logits[i, -1, token] = math.log(p)
        return logits, None


def test_beam_search_finds_the_sequence_greedy_misses():
    prompt = torch.zeros(1, 1, dtype=torch.long)
    greedy = [int(t) for t in generate(ToyModel(), prompt, 5, SamplingConfig(strategy="greedy"), stop_token=EOS)]
    assert greedy == [A, B, EOS]  # probability 0.2
    best = beam_search(ToyModel(), prompt, 5, BeamConfig(beams=2, length_penalty=0.0), eos_id=EOS)[0][0]
    assert best.tokens == [C, D] and best.finished
    assert math.isclose(best.log_prob, math.log(0.36), rel_tol=1e-6)


def test_n_best_hypotheses_come_in_score_order():
    hypotheses = beam_search(ToyModel(), torch.zeros(1, 1, dtype=torch.long), 5,
                             BeamConfig(beams=3, length_penalty=0.0, n_best=3), eos_id=EOS)[0]
    assert [h.tokens for h in hypotheses[:2]] == [[C, D], [A, B]]  # 0.36, 0.2, then A D or A: 0.15
    assert [round(math.exp(h.log_prob), 6) for h in hypotheses] == [0.36, 0.2, 0.15]
    scores = [h.score for h in hypotheses]
    assert scores == sorted(scores, reverse=True)


def test_length_penalty_is_gnmt_and_favours_longer_hypotheses():
    assert length_penalty(1, 0.0) == 1.0 and math.isclose(length_penalty(7, 0.6), 2.0**0.6)
    # with alpha = 1: A B EOS scores log(0.2) / (8/6) and EOS alone log(0.1) / 1
    hypotheses = beam_search(ToyModel(), torch.zeros(1, 1, dtype=torch.long), 5,
                             BeamConfig(beams=4, length_penalty=1.0, n_best=4), eos_id=EOS)[0]
    for h in hypotheses:
        assert math.isclose(h.score, h.log_prob / ((5 + len(h.tokens) + 1) / 6), rel_tol=1e-6)


def tiny_gpt() -> GPT:
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()


def test_one_beam_is_greedy_decoding():
    model = tiny_gpt()
    with torch.no_grad():
        model.lm_head.weight.mul_(20)  # a peaked, non-uniform model, so that the two have something to agree on
    for seed in range(3):
        prompt = torch.randint(0, 11, (1, 4), generator=torch.Generator().manual_seed(seed))
        greedy = [int(t) for t in generate(model, prompt, 20, SamplingConfig(strategy="greedy"), stop_token=0)]
        best = beam_search(model, prompt, 20, BeamConfig(beams=1, length_penalty=0.0), eos_id=0)[0][0]
        assert best.tokens + ([0] if best.finished else []) == greedy


def test_batched_beams_equal_one_input_at_a_time_and_log_probs_are_the_models():
    model, config = tiny_gpt(), BeamConfig(beams=3, n_best=3, length_penalty=0.6)
    prompts = torch.randint(0, 11, (3, 5), generator=torch.Generator().manual_seed(1))
    batched = beam_search(model, prompts, 8, config, eos_id=0)
    for b in range(3):
        alone = beam_search(model, prompts[b : b + 1], 8, config, eos_id=0)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[b]]
        for h in batched[b]:  # recompute log P(tokens (+ eos) | prompt) with one full forward pass
            continuation = h.tokens + ([0] if h.finished else [])
            ids = torch.cat([prompts[b], torch.tensor(continuation)])[None]
            log_probs = torch.log_softmax(model(ids)[0][0, 4:-1], dim=-1)
            expected = log_probs.gather(1, torch.tensor(continuation)[:, None]).sum().item()
            assert math.isclose(h.log_prob, expected, abs_tol=1e-4)


def test_beam_options_are_validated():
    with pytest.raises(UserError, match="beams must be >= 1, got 0"):
        BeamConfig(beams=0).validate()
    with pytest.raises(UserError, match="--beams must be >= 1"):  # as the command line says it
        BeamConfig(beams=0).validate(prefix="--")
    with pytest.raises(UserError, match="n_best"):
        BeamConfig(beams=2, n_best=3).validate()
