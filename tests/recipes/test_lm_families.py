"""`lmlab train --model FAMILY`: every family into the same run folder, sampled and evaluated alike."""

import json
import math
import os
import signal

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from lmlab.cli import main
from lmlab.data.lm import StreamSampler
from lmlab.recipes.families import LM_FAMILIES
from lmlab.models.rnn_lm import RNNLM, RNNLMConfig
from lmlab.recipes import lm
from lmlab.train.checkpoint import RunFolder
from lmlab.train.trainer import TrainConfig, Trainer


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("families") / "corpus.txt"
    path.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(80)))
    return path


def test_every_registered_family_has_tiny_and_cpu_presets_of_its_own_config():
    assert list(LM_FAMILIES) == ["ngram", "ffnn", "rnn", "lstm", "gru", "cnn", "gpt"]  # counting to attention
    for family in LM_FAMILIES.values():
        assert {"tiny", "cpu"} <= set(family.presets), family.name
        assert all(isinstance(p.model, family.config_class) for p in family.presets.values()), family.name


@pytest.mark.parametrize("family", ["ngram", "ffnn", "rnn", "lstm", "gru", "cnn"])
def test_every_family_trains_samples_and_evaluates_through_one_interface(family, corpus, tmp_path, capsys):
    out = tmp_path / family
    assert main(["train", "--model", family, "--data", str(corpus), "--out", str(out), "--preset", "tiny",
                 "--max-steps", "4", "--set", "log_every=1"]) == 0
    config = RunFolder(out).read_config()
    assert config["family"] == family and config["model"]["vocab_size"] > 0
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "tokenizer.json", "model.safetensors", "metrics.jsonl", "loss.png"} <= names
    if family == "ngram":  # counted: no optimizer state, counts as plain arrays (no pickle)
        assert "trainer_state.pt" not in names
        counts = load_file(str(out / "model.safetensors"))
        assert set(counts) == {f"{kind}_{j}" for kind in ("keys", "counts") for j in (1, 2, 3)}
        assert config["model"]["eos_id"] == 0  # the char tokenizer's end-of-text
    else:
        assert RunFolder(out).load_state()["step"] == 4
    capsys.readouterr()
    assert main(["eval", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"loss", "perplexity", "tokens"} and math.isfinite(result["loss"])
    assert result["loss"] < math.log(config["model"]["vocab_size"]) + 0.5
    sample = ["sample", str(out), "--prompt", "Line", "--max-new-tokens", "20", "--seed", "3"]
    assert main(sample) == 0
    first = capsys.readouterr().out
    assert main(sample) == 0
    assert capsys.readouterr().out == first and first.startswith("Line")


@pytest.mark.parametrize("args, message", [
    (["--model", "lstm", "--set", "n_head=2"], "unknown key 'n_head'; valid keys: model.vocab_size, model.cell"),
    (["--model", "lstm", "--set", "cell=gru"], "contradicts --model lstm"),
    (["--model", "ngram", "--set", "order=two"], "'two' is not a valid int"),
    (["--model", "ngram", "--set", "smoothing=witten-bell"], "not a valid ['kneser-ney', 'add-k', 'backoff']"),
    (["--model", "ffnn", "--preset", "gpt2-small"], "unknown preset 'gpt2-small'; choose one of: tiny, cpu"),
])
def test_set_is_typed_against_the_chosen_family(args, message, corpus, tmp_path, capsys):
    assert main(["train", "--data", str(corpus), "--out", str(tmp_path / "x"), *args]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_an_ngram_run_has_nothing_to_resume(corpus, tmp_path, capsys):
    out = tmp_path / "ngram"
    assert main(["train", "--model", "ngram", "--data", str(corpus), "--out", str(out), "--preset", "tiny"]) == 0
    capsys.readouterr()
    assert main(["train", "--out", str(out), "--resume"]) == 2
    assert "nothing to resume" in capsys.readouterr().err


MODEL = RNNLMConfig(vocab_size=29, cell="lstm", block_size=8, n_embd=8, n_hidden=16, n_layer=2, dropout=0.1)


def _tbptt_trainer(run_dir, config: TrainConfig, on_step_end=None, model_config=MODEL) -> Trainer:
    """What `lmlab train --model lstm` builds: carried states over StreamSampler streams."""
    torch.manual_seed(config.seed)
    model = RNNLM(model_config)
    ids = np.random.default_rng(0).integers(0, 29, size=3000).astype(np.uint16)
    sampler = StreamSampler(ids, model_config.block_size, config.batch_size * config.grad_accum, config.seed)
    context = type("Context", (), {"rank": 0, "world_size": 1})()
    return Trainer(model, config, RunFolder(run_dir),
                   train_batches=lambda step: lm._carried_state_batches(model, sampler, step, config, context),
                   on_step_end=on_step_end)


def _losses(run_dir) -> dict:
    return {r["step"]: r["train_loss"] for r in RunFolder(run_dir).read_metrics() if "train_loss" in r}


def test_truncated_bptt_resume_is_exact_because_the_carried_state_is_checkpointed(tmp_path):
    config = TrainConfig(batch_size=2, grad_accum=2, max_steps=12, warmup_steps=2, eval_every=0,
                         checkpoint_every=100, log_every=1, lr=1e-2)
    straight = _tbptt_trainer(tmp_path / "straight", config)
    straight.fit()
    assert len(straight.model.carried) == 2  # one state per micro-batch slot

    def interrupt(step, loss):
        if step == 5:
            os.kill(os.getpid(), signal.SIGINT)

    assert _tbptt_trainer(tmp_path / "stopped", config, on_step_end=interrupt).fit()["step"] == 5
    resumed = _tbptt_trainer(tmp_path / "stopped", config)
    resumed.resume()
    assert resumed.model.carried[1].hidden[0].abs().sum() > 0  # the state came back from model.safetensors
    resumed.fit()
    assert _losses(tmp_path / "stopped") == _losses(tmp_path / "straight")  # bit-exact, dropout included


@pytest.mark.parametrize("family", ["lstm", "ngram", "gpt"])
def test_evaluation_gives_each_model_all_the_context_it_can_use(family):
    """One stream carried window to window equals scoring the whole text at once; GPT, whose KV
    cache is bounded, scores block_size windows afresh."""
    from lmlab.data.lm import sequential_windows
    from lmlab.evaluate.metrics import language_model_loss

    torch.manual_seed(0)
    ids = np.random.default_rng(0).integers(0, 20, size=121).astype(np.uint16)
    config = {"vocab_size": 20, "block_size": 16}
    if family == "lstm":
        config.update(cell="lstm", n_embd=8, n_hidden=8, n_layer=1)
    elif family == "gpt":
        config.update(n_layer=1, n_head=2, n_embd=8)
    model = LM_FAMILIES[family].build(config)
    if family == "ngram":
        model.fit(np.random.default_rng(1).integers(0, 20, size=500))
    loss, tokens = lm.evaluation_loss(model.eval(), ids, 16, "cpu", batch_size=1)
    assert tokens == 120
    if family == "gpt":
        assert loss == pytest.approx(language_model_loss(model, sequential_windows(ids, 16, 16), "cpu")[0])
        return
    whole = torch.from_numpy(ids.astype(np.int64))[None]
    logits, _ = model(whole[:, :-1])
    expected = torch.nn.functional.cross_entropy(logits[0], whole[0, 1:]).item()
    assert loss == pytest.approx(expected, rel=1e-5)
