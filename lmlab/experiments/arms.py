"""One arm of an experiment: a small GPT trained by `lmlab train`'s own code, then read back.

An arm is a GPT preset with a few fields changed (``score="dot"``, ``pos="rope"``...), or an RNN,
LSTM or GRU of the same budget (`recurrent_arm_config`). It trains
with `lm.fit`, the function behind `lmlab train`, into its own run folder under the experiment's
folder, so an arm is an ordinary run (`lmlab sample` and `lmlab eval` open it) and the lab has no
training loop of its own. What the experiment keeps of an arm is a part (`Lab.part`): the
validation curve, the final validation loss, the time it took.

    TrainingSettings (shared by every arm)  +  model fields of the arm  ->  LMRunConfig  ->  lm.fit
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

from lmlab.data.lm import WindowSampler, load_ids
from lmlab.errors import UserError
from lmlab.models.gpt import GPTConfig
from lmlab.models.rnn_lm import RNNLMConfig
from lmlab.recipes import lm
from lmlab.recipes.families import GPT_PRESETS, LM_FAMILIES, LMFamily, LMRunConfig, lm_family
from lmlab.runs import load_run
from lmlab.train.checkpoint import RunFolder


@dataclass
class TrainingSettings:
    """How every arm of an experiment is trained: the text, the shape, the budget, the seeds. An
    experiment's settings subclass this, so `--set steps=100` reaches every arm."""

    seeds: int = 3  # each arm is trained with seeds 0..seeds-1
    corpus: str = "shakespeare"
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 64
    batch_size: int = 16
    steps: int = 300
    lr: float = 2e-3
    eval_every: int = 50
    eval_batches: int = 8

    def describe(self) -> str:
        """One sentence of a report's set-up: how every arm was trained."""
        return (f"GPTs with {self.n_layer} layers, {self.n_head} head(s) of d_k = {self.n_embd // self.n_head} "
                f"(n_embd {self.n_embd}), block {self.block_size}, batch {self.batch_size}, {self.steps} steps at "
                f"lr {self.lr:g} on `{self.corpus}` (characters), seeds 0..{self.seeds - 1}.")

    def check_relations(self) -> None:
        if min(self.seeds, self.n_layer, self.n_head, self.n_embd, self.block_size, self.batch_size, self.steps) < 1:
            raise UserError("seeds, n_layer, n_head, n_embd, block_size, batch_size and steps must be >= 1")


def arm_config(training: TrainingSettings, seed: int, config_class: type = GPTConfig, **model_fields) -> LMRunConfig:
    """The `cpu` GPT preset reshaped by `training`, with the arm's own model fields on top (in
    `config_class`, a GPTConfig or a subclass that adds the arm's knob)."""
    config = copy.deepcopy(GPT_PRESETS["cpu"])
    shape = {"n_layer": training.n_layer, "n_head": training.n_head, "n_embd": training.n_embd,
             "block_size": training.block_size, "dropout": 0.0}
    config.model = config_class(**{**dataclasses.asdict(config.model), **shape, **model_fields})
    config.model.validate()
    return _trained_like_every_arm(config, training, seed)


def recurrent_arm_config(training: TrainingSettings, seed: int, cell: str, n_hidden: int,
                         config_class: type = RNNLMConfig, **model_fields) -> LMRunConfig:
    """An RNN, LSTM or GRU language model (`cell`) of `training`'s n_layer, n_embd and block, `n_hidden`
    wide, trained like a GPT arm; `config_class` may be a subclass of RNNLMConfig with the arm's knob."""
    config = copy.deepcopy(lm_family(cell).presets["cpu"])
    shape = {"n_layer": training.n_layer, "n_embd": training.n_embd, "n_hidden": n_hidden,
             "block_size": training.block_size, "dropout": 0.0}
    config.model = config_class(**{**dataclasses.asdict(config.model), **shape, **model_fields})
    config.model.validate()
    return _trained_like_every_arm(config, training, seed)


def _trained_like_every_arm(config: LMRunConfig, training: TrainingSettings, seed: int) -> LMRunConfig:
    """`config` with the training budget, seed, logging and characters of `training`."""
    t = config.train
    t.batch_size, t.max_steps, t.lr, t.min_lr = training.batch_size, training.steps, training.lr, training.lr / 10
    t.warmup_steps, t.seed, t.log_every = max(1, training.steps // 10), seed, max(1, training.steps // 30)
    t.eval_every, t.eval_batches, t.checkpoint_every = training.eval_every, training.eval_batches, 0
    config.data.corpus, config.data.tokenizer, config.data.vocab_size = training.corpus, "char", None
    return config


def train_arm(lab, key: str, config: LMRunConfig, family: LMFamily | None = None, measure=None, watch=None,
              training_loss=None) -> dict:
    """Train one arm as part `key` of the lab; `measure(model, folder)` adds numbers read from the
    trained model (its validation ids are in folder/data/val.npy); `watch(model, step)` is called
    at step 0 and after every step (`lm.fit`), to record how something changes during training;
    `training_loss(model, batch)` replaces the model's own loss (a distilled student's).

    Returns {"val_loss", "train_loss", "curve": [[step, val_loss]], "train_curve", "seconds", ...}.
    A Ctrl-C inside the training (the Trainer saves and stops) stops the whole experiment."""
    family = family or lm_family("gpt")

    def compute(folder: Path) -> dict:
        summary = lm.fit(family, config, folder, lab.context, watch=watch, training_loss=training_loss)
        if summary["interrupted"]:
            raise KeyboardInterrupt
        records = RunFolder(folder).read_metrics()
        curve = [[r["step"], r["val_loss"]] for r in records if "val_loss" in r]  # the last: at max_steps
        numbers = {"val_loss": curve[-1][1], "train_loss": summary["train_loss"], "seconds": summary["seconds"],
                   "curve": curve, "train_curve": [[r["step"], r["train_loss"]] for r in records if "train_loss" in r]}
        if measure is not None:
            numbers.update(measure(load_arm(folder, family, lab.device), folder))
        return numbers

    return lab.part(key, compute)


def load_arm(folder: Path, family: LMFamily, device):
    """The trained model of an arm's run folder (a registered family opens with `load_run`)."""
    if LM_FAMILIES.get(family.name) is family:
        return load_run(folder, device, expect="lm").model
    model = family.build(RunFolder(folder).read_config(expect="lm")["model"])
    RunFolder(folder).load_model(model)
    return model.to(device).eval()


def validation_batch(folder: Path, block_size: int, batch_size: int, device):
    """One fixed batch (inputs, targets), each (B, T), of evenly spaced windows of an arm's validation text."""
    sampler = WindowSampler(load_ids(Path(folder) / "data" / "val.npy"), block_size, seed=0)
    inputs, targets = sampler.fixed_batches(1, batch_size)[0]
    return inputs.to(device), targets.to(device)
