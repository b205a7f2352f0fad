"""bf16 autocast and torch.compile, chosen by dtype=auto / compile=auto: the rules, and that both
fast paths train the same model as float32 eager within tolerance."""

import dataclasses

import numpy as np
import pytest
import torch

from lmlab.config import config_from_dict
from lmlab.data.lm import WindowSampler
from lmlab.models.gpt import GPT
from lmlab.train.checkpoint import RunFolder
from lmlab.train import acceleration
from lmlab.train.acceleration import AutoCompile, choose_autocast, plan_compile
from lmlab.train.trainer import TrainConfig, Trainer
from tests.train.test_trainer import MODEL, make_trainer

CPU = torch.device("cpu")
NO_DROPOUT = dataclasses.replace(MODEL, dropout=0.0)


def test_auto_takes_bf16_where_the_cpu_computes_it_and_the_model_is_wide_enough(monkeypatch):
    wide, narrow = acceleration.MIN_CPU_BF16_WIDTH, acceleration.MIN_CPU_BF16_WIDTH - 1
    monkeypatch.setattr(acceleration, "cpu_computes_bf16", lambda: True)
    assert choose_autocast("auto", CPU, wide)[0] is torch.bfloat16
    dtype, reason = choose_autocast("auto", CPU, narrow)
    assert dtype is None and f"width {narrow}" in reason
    monkeypatch.setattr(acceleration, "cpu_computes_bf16", lambda: False)
    dtype, reason = choose_autocast("auto", CPU, wide)
    assert dtype is None and "no native bf16" in reason
    assert choose_autocast("bfloat16", CPU, narrow)[0] is torch.bfloat16  # as set, whatever the CPU and width
    assert choose_autocast("float32", CPU, wide)[0] is None


def test_the_width_of_a_gpt_is_its_n_embd():
    assert acceleration.model_width(GPT(MODEL)) == MODEL.n_embd  # qkv, proj, up and the head read n_embd


def test_compile_plan_needs_a_long_run_fixed_shapes_and_a_compiler(monkeypatch):
    long_run = 10 * acceleration.PAYBACK * acceleration.EXPECTED_COMPILE_SECONDS["cpu"]  # seconds of eager steps
    assert plan_compile(1.0, int(long_run), True, CPU).compile
    short = plan_compile(0.1, 100, True, CPU)  # 10 s of eager steps left
    assert not short.compile and "0.2 min eager" in short.reason
    assert not plan_compile(1.0, int(long_run), False, CPU).compile
    monkeypatch.setattr(acceleration.shutil, "which", lambda name: None)
    assert "no C++ compiler" in plan_compile(1.0, int(long_run), True, CPU).reason


class _Stub(torch.nn.Module):
    """What a fake torch.compile returns: the eager module behind a new object."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, *args):
        return self.inner(*args)


def _probe(switch: AutoCompile, eager_s: float, compiled_s: float, steps_left: int) -> None:
    """Feed the switch the step times of one whole probe: warm-up, eager steps, compile, compiled steps."""
    shapes = ((2, 16),)
    switch.step_done(99.0, shapes, steps_left)  # warm-up: not counted
    for _ in range(acceleration.PROBE_STEPS):
        switch.step_done(eager_s, shapes, steps_left)
    if switch.phase == "done":
        return
    switch.step_done(99.0, shapes, steps_left)  # the step that compiled
    for _ in range(acceleration.PROBE_STEPS):
        switch.step_done(compiled_s, shapes, steps_left)


@pytest.mark.parametrize("compiled_s, kept", [(0.5, True), (1.5, False)])
def test_auto_compile_keeps_the_compiled_model_only_if_its_steps_are_faster(monkeypatch, compiled_s, kept):
    monkeypatch.setattr(torch, "compile", _Stub)
    said = []
    eager = torch.nn.Linear(2, 2)
    switch = AutoCompile(eager, CPU, said.append)
    _probe(switch, 1.0, compiled_s, steps_left=10 ** 6)
    assert isinstance(switch.module(), _Stub) is kept
    assert said[0].startswith("compile: on (auto") and ("kept" in said[1]) is kept


def test_auto_compile_stays_eager_on_a_short_run(monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda module: pytest.fail("a short run must not compile"))
    said = []
    switch = AutoCompile(torch.nn.Linear(2, 2), CPU, said.append)
    _probe(switch, 0.01, 0.0, steps_left=100)
    assert switch.phase == "done" and "off (auto" in said[0]


class _BrokenCompiler(torch.nn.Module):
    def __init__(self, inner):
        super().__init__()

    def forward(self, *args):
        raise RuntimeError("no C++ compiler found")


def test_a_compiler_that_fails_leaves_the_run_eager_with_the_same_losses(tmp_path, monkeypatch):
    config = TrainConfig(batch_size=2, max_steps=12, log_every=1, eval_every=0, checkpoint_every=0,
                         dtype="float32", compile="off")
    plain = make_trainer(tmp_path / "plain", config, model_config=NO_DROPOUT)
    plain_losses = [plain.train_step()[0] for _ in range(config.max_steps)]
    monkeypatch.setattr(torch, "compile", _BrokenCompiler)
    monkeypatch.setattr(acceleration, "plan_compile",
                        lambda *args: acceleration.CompilePlan(True, "on (forced by the test)"))
    auto = make_trainer(tmp_path / "auto", dataclasses.replace(config, compile="auto"), model_config=NO_DROPOUT)
    auto_losses = [auto.train_step()[0] for _ in range(config.max_steps)]
    assert auto_losses == pytest.approx(plain_losses, abs=1e-6)
    assert any("compilation failed" in c and "RuntimeError" in c for c in auto.choices)


def cycle_trainer(run_dir, config: TrainConfig) -> Trainer:
    """A tiny GPT on a learnable text: the tokens 0, 7, 14, ... mod 29, over and over."""
    torch.manual_seed(0)
    ids = (np.arange(5000) * 7 % 29).astype(np.uint16)
    sampler = WindowSampler(ids, MODEL.block_size, config.seed)
    return Trainer(GPT(NO_DROPOUT), config, RunFolder(run_dir),
                   train_batches=lambda step: sampler.step_batches(step, config.batch_size, config.grad_accum))


def test_bf16_autocast_trains_within_tolerance_of_float32(tmp_path):
    losses = {}
    for dtype in ("float32", "bfloat16"):
        config = TrainConfig(batch_size=8, max_steps=60, lr=1e-2, warmup_steps=5, log_every=1, eval_every=0,
                             checkpoint_every=0, dtype=dtype, compile="off")
        trainer = cycle_trainer(tmp_path / dtype, config)
        losses[dtype] = [trainer.train_step()[0] for _ in range(config.max_steps)]
    fp32, bf16 = losses["float32"], losses["bfloat16"]
    assert fp32[-1] < fp32[0] / 2  # it learned the cycle: the comparison means something
    assert bf16[0] != fp32[0]  # bf16 really ran (the matrix products are rounded)
    assert bf16[0] == pytest.approx(fp32[0], rel=0.01)
    assert sum(bf16[-5:]) / 5 == pytest.approx(sum(fp32[-5:]) / 5, rel=0.02)


def test_compiled_training_step_equals_eager_within_tolerance(tmp_path):
    config = TrainConfig(batch_size=2, max_steps=3, log_every=1, eval_every=0, checkpoint_every=0,
                         dtype="float32", compile="off")
    tiny = dataclasses.replace(NO_DROPOUT, n_layer=1)
    eager = make_trainer(tmp_path / "eager", config, model_config=tiny)
    compiled = make_trainer(tmp_path / "compiled", dataclasses.replace(config, compile="on"), model_config=tiny)
    for _ in range(config.max_steps):
        assert compiled.train_step()[0] == pytest.approx(eager.train_step()[0], rel=1e-4)
    for p, q in zip(compiled.model.parameters(), eager.model.parameters()):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)
    assert compiled.wrapped is not compiled.model  # the step ran through torch.compile's module


def test_run_folders_written_before_compile_auto_still_load():
    assert config_from_dict(TrainConfig, {"compile": False}).compile == "off"
    assert config_from_dict(TrainConfig, {"compile": True}).compile == "on"
