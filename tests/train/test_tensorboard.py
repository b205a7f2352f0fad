"""The gradient norm in metrics.jsonl, and `--set logger=tensorboard`: the same numbers as TensorBoard
scalars, read back with TensorBoard's own reader, for every command that trains."""

import os
import signal

import numpy as np
import pytest
import torch

from lmlab.cli import main
from lmlab.data.lm import WindowSampler
from lmlab.errors import UserError
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.train import tensorboard
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer

MODEL = GPTConfig(vocab_size=29, block_size=16, n_layer=2, n_head=2, n_embd=16, dropout=0.0)
IDS = np.random.default_rng(0).integers(0, 29, size=5000).astype(np.uint16)


def make_trainer(run_dir, config: TrainConfig, on_step_end=None) -> Trainer:
    torch.manual_seed(config.seed)
    sampler = WindowSampler(IDS, MODEL.block_size, config.seed)
    return Trainer(GPT(MODEL), config, RunFolder(run_dir),
                   train_batches=lambda step: sampler.step_batches(step, config.batch_size, config.grad_accum),
                   eval_batches=lambda: sampler.fixed_batches(2, 4), on_step_end=on_step_end)


def event_scalars(run_dir) -> dict[str, dict[int, float]]:
    """{tag: {step: value}} of every event file in RUN/tensorboard, as TensorBoard reads them."""
    accumulator_module = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator",
                                             reason="logger=tensorboard needs the tensorboard package")
    accumulator = accumulator_module.EventAccumulator(str(run_dir / "tensorboard"))
    accumulator.Reload()
    return {tag: {event.step: event.value for event in accumulator.Scalars(tag)}
            for tag in accumulator.Tags()["scalars"]}


def jsonl_scalars(run_dir) -> dict[str, dict[int, float]]:
    found = {}
    for record in RunFolder(run_dir).read_metrics():
        for key, tag in tensorboard.TAGS.items():
            if key in record:
                found.setdefault(tag, {})[record["step"]] = record[key]
    return found


def test_grad_norm_is_the_total_norm_before_clipping(tmp_path):
    config = TrainConfig(batch_size=4, max_steps=1, log_every=1, eval_every=0, grad_clip=0.01, dtype="float32")
    trainer = make_trainer(tmp_path, config)
    reference = GPT(MODEL)
    reference.load_state_dict(trainer.model.state_dict())
    inputs, targets = trainer.train_batches(0)[0]
    reference(inputs, targets)[1].backward()
    norm = torch.cat([p.grad.flatten() for p in reference.parameters() if p.grad is not None]).norm().item()
    trainer.fit()
    record = next(r for r in RunFolder(tmp_path).read_metrics() if "train_loss" in r)
    assert record["grad_norm"] == pytest.approx(norm, rel=1e-5)
    assert norm > 10 * config.grad_clip  # so the clipped norm (0.01) would not pass


def test_tensorboard_holds_the_numbers_of_metrics_jsonl_across_a_resume(tmp_path):
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs the tensorboard package")
    config = TrainConfig(batch_size=4, max_steps=12, warmup_steps=3, eval_every=4, checkpoint_every=5,
                         log_every=1, logger="tensorboard")

    def interrupt_at_step_7(step, loss):
        if step == 7:
            os.kill(os.getpid(), signal.SIGINT)  # the checkpoint is at step 7; steps 6 and 7 were logged once

    assert make_trainer(tmp_path, config, on_step_end=interrupt_at_step_7).fit()["step"] == 7
    first = event_scalars(tmp_path)
    assert max(first["train/loss"]) == 7
    resumed = make_trainer(tmp_path, config)
    resumed.resume()
    resumed.fit()
    events, records = event_scalars(tmp_path), jsonl_scalars(tmp_path)
    assert set(events) == {"train/loss", "val/loss", "lr", "tokens_per_s", "grad_norm"} == set(records)
    for tag in events:
        assert sorted(events[tag]) == sorted(records[tag]), tag  # every step once
        for step, value in records[tag].items():
            assert events[tag][step] == pytest.approx(value, rel=1e-6), (tag, step)
    assert sorted(events["train/loss"]) == list(range(1, 13)) and sorted(events["val/loss"]) == [4, 8, 12]
    assert len(list((tmp_path / "tensorboard").iterdir())) == 2  # the resume appended a file


def test_a_resume_that_re_trains_steps_keeps_only_the_new_ones(tmp_path):
    """Trained to step 7, checkpointed at 5: the resume trains 6 and 7 again; TensorBoard keeps those."""
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs the tensorboard package")
    config = TrainConfig(batch_size=4, max_steps=7, checkpoint_every=5, eval_every=0, log_every=1,
                         logger="tensorboard")
    trainer = make_trainer(tmp_path, config)
    trainer.fit()
    with torch.no_grad():  # as if the run had died after a checkpoint at step 5 of other weights:
        for parameter in trainer.model.parameters():  # steps 6 and 7 are trained again, to other losses
            parameter.add_(0.5)
    trainer.step = 5
    trainer.save_checkpoint()
    resumed = make_trainer(tmp_path, config)
    resumed.resume()
    resumed.fit()
    events, records = event_scalars(tmp_path), jsonl_scalars(tmp_path)
    assert sorted(events["train/loss"]) == list(range(1, 8))
    assert events["train/loss"] == pytest.approx(records["train/loss"], rel=1e-6)
    first_run = make_trainer(tmp_path / "straight", config)
    first_run.fit()
    assert jsonl_scalars(tmp_path / "straight")["train/loss"][7] != pytest.approx(records["train/loss"][7])


def test_logger_tensorboard_without_the_package_names_the_extra(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tensorboard.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install lmlab\[tensorboard\]"):
        TrainConfig(logger="tensorboard").validate()
    assert main(["train", "--data", "pydoc", "--preset", "tiny", "--out", str(tmp_path / "run"),
                 "--set", "logger=tensorboard"]) == 2
    assert "pip install lmlab[tensorboard]" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_a_resume_may_turn_tensorboard_on(tmp_path):
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs the tensorboard package")
    start = ["train", "--data", "pydoc", "--preset", "tiny", "--out", str(tmp_path), "--set", "log_every=1"]
    assert main([*start, "--max-steps", "2"]) == 0
    assert main([*start, "--max-steps", "4", "--resume", "--set", "logger=tensorboard"]) == 0
    assert sorted(event_scalars(tmp_path)["train/loss"]) == [3, 4]
    assert event_scalars(tmp_path)["train/loss"] == pytest.approx(
        {step: loss for step, loss in jsonl_scalars(tmp_path)["train/loss"].items() if step > 2})


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A text file, a folder of two, a GLUE folder and a parallel-text folder, tiny."""
    root = tmp_path_factory.mktemp("data")
    (root / "corpus.txt").write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n"
                                             for i in range(60)))
    (root / "documents").mkdir()  # next-sentence prediction needs two documents
    for name in ("a.txt", "b.txt"):
        (root / "documents" / name).write_text((root / "corpus.txt").read_text())
    (root / "glue").mkdir()
    for name in ("train.tsv", "dev.tsv"):
        (root / "glue" / name).write_text("sentence\tlabel\n" + "".join(
            f"{'a good film' if i % 2 else 'a bad film'} {i}\t{i % 2}\n" for i in range(16)))
    (root / "parallel").mkdir()
    for split in ("train", "val"):
        for language in ("en", "de"):
            (root / "parallel" / f"{split}.{language}").write_text("".join(f"a {language} line {i}\n"
                                                                            for i in range(20)))
    return root


COMMANDS = {  # every command that trains, tiny; the tag its event file must hold
    "train": (["train", "--data", "{root}/corpus.txt", "--preset", "tiny", "--max-steps", "2"], "train/loss"),
    "train ngram": (["train", "--model", "ngram", "--data", "{root}/corpus.txt", "--preset", "tiny"], "val/loss"),
    "bert pretrain": (["bert", "pretrain", "--data", "{root}/documents", "--preset", "tiny", "--max-steps", "2"],
                      "train/loss"),
    "seq2seq train": (["seq2seq", "train", "--data", "{root}/parallel", "--preset", "tiny", "--max-steps", "2"],
                      "train/loss"),
    "classify train bow": (["classify", "train", "--model", "bow", "--data", "{root}/glue", "--preset", "tiny",
                            "--max-steps", "2"], "val/accuracy"),
    "classify train perceptron": (["classify", "train", "--model", "perceptron", "--data", "{root}/glue",
                                   "--preset", "tiny"], "val/accuracy"),
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_training_command_takes_logger_tensorboard(command, data, tmp_path):
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs the tensorboard package")
    argv, tag = COMMANDS[command]
    out = tmp_path / "run"
    assert main([a.format(root=data) for a in argv] + ["--out", str(out), "--set", "logger=tensorboard"]) == 0
    events, records = event_scalars(out), jsonl_scalars(out)
    assert tag in events and events[tag] == pytest.approx(records[tag], rel=1e-6)


def test_compare_passes_logger_tensorboard_to_every_family(data, tmp_path):
    pytest.importorskip("tensorboard", reason="logger=tensorboard needs the tensorboard package")
    out = tmp_path / "compare"
    assert main(["compare", "--preset", "tiny", "--data", str(data / "corpus.txt"), "--models", "ngram,gpt",
                 "--max-steps", "2", "--out", str(out), "--set", "logger=tensorboard"]) == 0
    assert "val/loss" in event_scalars(out / "ngram") and "train/loss" in event_scalars(out / "gpt")
