"""Recipe: `lmlab distill TEACHER_RUN`, a smaller GPT trained on a teacher's soft targets.

    teacher run -> its corpus, split and tokenizer -> the student's configuration (a preset + --set)
                -> lm.fit with the distillation loss (`lmlab.train.distill`) -> a language-model run

The student reads exactly the teacher's text: the same corpus, split the same way, encoded by the
teacher's own tokenizer.json, so teacher and student predict over the same tokens. It trains
through `lm.fit`, the code of `lmlab train`, with the Trainer's loss replaced by
alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE; its validation loss is the plain
cross-entropy of every run. The result is an ordinary language-model run (config.json has
``kind: lm`` and a ``distill`` section): `sample`, `eval`, `quantize` and `--resume` take it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from lmlab.config import config_from_dict
from lmlab.errors import UserError
from lmlab.models.gpt import GPTConfig
from lmlab.recipes import lm
from lmlab.recipes.common import resolve_config, resume_config, run_distributed, saved_config, saved_run, say
from lmlab.recipes.families import GPT_PRESETS, DataConfig, LMRunConfig, lm_family
from lmlab.recipes.options import DistillOptions
from lmlab.runs import Run, load_run
from lmlab.train import distributed
from lmlab.train.checkpoint import RunFolder
from lmlab.train.distill import DistillConfig, teacher_loss


@dataclass
class DistillRunConfig(LMRunConfig):
    """A language-model run's configuration plus how the student learns from its teacher."""

    distill: DistillConfig = field(default_factory=DistillConfig)


def _student(name: str, **shape) -> DistillRunConfig:
    preset = copy.deepcopy(GPT_PRESETS[name])
    for key, value in shape.items():
        setattr(preset.model, key, value)
    return DistillRunConfig(preset.model, preset.train, preset.data)


PRESETS = {
    "tiny": _student("tiny"),  # seconds, for tests: the tiny GPT
    "quarter": _student("cpu", n_embd=64),  # the cpu GPT at half the width: about a quarter of the parameters
    # of the default `lmlab train` run
    "cpu": _student("cpu"),  # the teacher's size (self-distillation)
}


def open_teacher(path: str, device) -> Run:
    """The teacher: a GPT language-model run, in eval mode on `device`."""
    teacher = load_run(path, device, expect="lm", command="lmlab distill")
    if teacher.family != "gpt":
        raise UserError(f"{path} is not a GPT run (its model: {lm_family(teacher.family).display_name}); "
                        f"`lmlab distill` needs a GPT teacher (`lmlab train`)")
    return teacher


def _from_teacher(config: DistillRunConfig, options: DistillOptions, teacher: Run) -> None:
    """The student's data: the teacher's corpus (or --data), split as the teacher's, its tokenizer file."""
    data = config_from_dict(DataConfig, teacher.config["data"], str(teacher.path / "config.json"))
    data.corpus = options.data or data.corpus
    if data.corpus is None:
        raise UserError(f"{teacher.path} was imported and has no corpus of its own: give --data CORPUS|PATH")
    data.tokenizer = str((teacher.path / "tokenizer.json").resolve())
    config.data = data
    config.distill.teacher = str(teacher.path.resolve())


def _check_student(config: DistillRunConfig, teacher: Run, out: Path) -> None:
    if Path(config.distill.teacher).resolve() != teacher.path.resolve():
        raise UserError(f"{out} is distilled from {config.distill.teacher}, not from {teacher.path}: give that "
                        f"TEACHER_RUN")
    if config.data.tokenizer != str((teacher.path / "tokenizer.json").resolve()):
        raise UserError(f"--set tokenizer: the student reads the teacher's tokenizer ({teacher.path}/tokenizer.json)")
    reach = teacher.model.config.block_size
    if config.model.block_size > reach and not teacher.model.position_embedding.extrapolates:
        raise UserError(f"the student's block_size {config.model.block_size} exceeds the teacher's {reach}: the "
                        f"teacher cannot score such windows (--set block_size={reach})")


def resolve_student(options: DistillOptions, teacher: Run, out: Path) -> tuple[DistillRunConfig, bool]:
    """(the student's configuration, whether it resumes a run)."""
    run = RunFolder(out)
    saved = saved_run(run, options, "lm", "lmlab distill --resume")
    if saved is None:
        config = resolve_config(PRESETS, options, DistillOptions.default_preset,
                                adjust=lambda c, o: _from_teacher(c, o, teacher))
    else:
        if "distill" not in saved:
            raise UserError(f"--resume: {out} was not distilled: continue it with `lmlab train --resume`")
        config = resume_config(saved_config(DistillRunConfig, GPTConfig, saved, str(run.config_path)), options,
                               str(out), saved.get("preset"))
    _check_student(config, teacher, out)
    return config, saved is not None


def train(options: DistillOptions, context: distributed.Context) -> dict:
    teacher = open_teacher(options.teacher, context.device)
    out = Path(options.out) if options.out else Path("runs") / f"{Path(options.teacher).name}-student"
    config, resume = resolve_student(options, teacher, out)
    if context.is_main:
        d = config.distill
        say(f"teacher {teacher.path}: {teacher.model.num_parameters() / 1e6:.2f}M parameters; soft targets at "
            f"temperature {d.temperature:g}, weight alpha = {d.alpha:g}")
    return lm.fit(lm_family("gpt"), config, out, context, preset=options.preset or DistillOptions.default_preset,
                  resume=resume, training_loss=teacher_loss(teacher.model, config.distill))


def distill_command(options: DistillOptions) -> None:
    lm.finish_training(run_distributed(train, options), options)
