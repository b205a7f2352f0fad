"""The training loop: gradient accumulation, Ctrl-C checkpointing and exact resume."""

import dataclasses
import os
import signal

import numpy as np
import pytest
import torch

from lmlab.data.lm import WindowSampler
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.train.checkpoint import RunFolder
from lmlab.train.optim import parameter_groups
from lmlab.train.trainer import TrainConfig, Trainer

MODEL = GPTConfig(vocab_size=29, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.1)


def make_trainer(run_dir, config: TrainConfig, on_step_end=None, model_config=MODEL) -> Trainer:
    torch.manual_seed(config.seed)
    model = GPT(model_config)
    ids = np.random.default_rng(0).integers(0, 29, size=5000).astype(np.uint16)
    sampler = WindowSampler(ids, MODEL.block_size, config.seed)
    return Trainer(model, config, RunFolder(run_dir),
                   train_batches=lambda step: sampler.step_batches(step, config.batch_size, config.grad_accum),
                   eval_batches=lambda: sampler.fixed_batches(2, 4), on_step_end=on_step_end)


def train_losses(run_dir) -> dict[int, float]:
    return {r["step"]: r["train_loss"] for r in RunFolder(run_dir).read_metrics() if "train_loss" in r}


def test_parameter_groups_decay_matrices_only():
    decay, no_decay = parameter_groups(GPT(MODEL), 0.1)
    assert all(p.dim() >= 2 for p in decay["params"]) and decay["weight_decay"] == 0.1
    assert all(p.dim() == 1 for p in no_decay["params"]) and no_decay["weight_decay"] == 0.0
    assert len(no_decay["params"]) == 2 * 2 * 2 + 2 * 2 * 2 + 2  # LayerNorm w+b, Linear biases, ln_f


def test_k_accumulation_steps_of_b_equal_one_step_of_k_times_b(tmp_path):
    no_dropout = dataclasses.replace(MODEL, dropout=0.0)  # the two must do identical computations
    accumulated = make_trainer(tmp_path / "a", TrainConfig(batch_size=2, grad_accum=4, max_steps=3, dtype="float32"),
                               model_config=no_dropout)  # float32: bf16 would round batches of 2 and 8 differently
    full = make_trainer(tmp_path / "b", TrainConfig(batch_size=8, grad_accum=1, max_steps=3, dtype="float32"),
                        model_config=no_dropout)
    for _ in range(3):
        loss_a, tokens_a = accumulated.train_step()
        loss_b, tokens_b = full.train_step()
        assert tokens_a == tokens_b == 8 * 16
        assert loss_a == pytest.approx(loss_b, abs=1e-5)
    for p, q in zip(accumulated.model.parameters(), full.model.parameters()):
        assert torch.allclose(p, q, atol=1e-5)


def test_ctrl_c_saves_a_checkpoint_and_resume_reproduces_the_uninterrupted_losses(tmp_path):
    config = TrainConfig(batch_size=4, max_steps=16, warmup_steps=3, eval_every=5, checkpoint_every=100,
                         log_every=1, lr=3e-3)
    make_trainer(tmp_path / "straight", config).fit()

    def interrupt_at_step_7(step, loss):
        if step == 7:
            os.kill(os.getpid(), signal.SIGINT)  # what the user's Ctrl-C does

    summary = make_trainer(tmp_path / "stopped", config, on_step_end=interrupt_at_step_7).fit()
    assert summary["interrupted"] and summary["step"] == 7
    assert RunFolder(tmp_path / "stopped").load_state()["step"] == 7

    resumed = make_trainer(tmp_path / "stopped", config)  # a fresh process would rebuild it like this
    resumed.resume()
    assert resumed.step == 7
    resumed.fit()
    straight, stopped = train_losses(tmp_path / "straight"), train_losses(tmp_path / "stopped")
    assert sorted(stopped) == list(range(1, 17))
    for step in range(1, 17):
        assert stopped[step] == straight[step], f"step {step}"  # bit-exact on CPU, dropout included


def test_checkpoint_round_trip_restores_weights_and_optimizer(tmp_path):
    trainer = make_trainer(tmp_path, TrainConfig(batch_size=4, max_steps=3, eval_every=0, checkpoint_every=0))
    trainer.fit()
    fresh = make_trainer(tmp_path, TrainConfig(batch_size=4, max_steps=3))
    fresh.resume()
    for p, q in zip(trainer.model.state_dict().values(), fresh.model.state_dict().values()):
        assert torch.equal(p, q)
    moments = lambda t: [s["exp_avg"] for s in t.optimizer.state_dict()["state"].values()]  # noqa: E731
    assert all(torch.equal(a, b) for a, b in zip(moments(trainer), moments(fresh)))
    assert fresh.step == 3 and fresh.tokens_seen == trainer.tokens_seen
