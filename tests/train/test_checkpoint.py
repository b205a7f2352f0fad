"""The run folder: atomic writes, round trips, and refusing corrupt or foreign files by name."""

import json
import pickle

import pytest
import torch

from lmlab.errors import UserError
from lmlab.io import atomic_write
from lmlab.models.gpt import GPT, GPTConfig
from lmlab.train.checkpoint import RunFolder


def tiny_model(seed=0):
    torch.manual_seed(seed)
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))


def test_model_round_trip_keeps_tied_weights(tmp_path):
    run = RunFolder(tmp_path)
    model = tiny_model(0)
    run.save_model(model, step=5)
    loaded = tiny_model(1)
    run.load_model(loaded)
    assert run.model_step() == 5
    for (name, p), q in zip(model.state_dict().items(), loaded.state_dict().values()):
        assert torch.equal(p, q), name
    assert loaded.lm_head.weight is loaded.token_embedding.weight  # still tied after loading


def test_config_round_trip_carries_versions(tmp_path):
    run = RunFolder(tmp_path)
    run.write_config({"model_type": "gpt", "model": {"n_layer": 1}})
    config = run.read_config()
    assert config["format_version"] == 1 and "lmlab_version" in config and config["model"] == {"n_layer": 1}


def test_corrupt_and_foreign_files_are_refused_by_name(tmp_path):
    run = RunFolder(tmp_path)
    with pytest.raises(UserError, match="config.json is missing"):
        run.read_config()
    run.config_path.write_text("{not json")
    with pytest.raises(UserError, match="config.json: corrupt config"):
        run.read_config()
    run.config_path.write_text(json.dumps({"format_version": 99}))
    with pytest.raises(UserError, match="run format version 99 is not supported"):
        run.read_config()
    run.model_path.write_bytes(b"\x00" * 64)
    with pytest.raises(UserError, match="model.safetensors: not a readable safetensors file"):
        run.load_model(tiny_model())
    other = GPT(GPTConfig(vocab_size=12, block_size=8, n_layer=1, n_head=2, n_embd=8))
    run.save_model(other, step=1)
    with pytest.raises(UserError, match="weights do not fit the model"):
        run.load_model(tiny_model())


class _Exploit:
    def __reduce__(self):
        return (print, ("this code must never run",))


def test_trainer_state_is_loaded_without_unpickling_code(tmp_path):
    run = RunFolder(tmp_path)
    run.save_model(tiny_model(), step=1)
    with open(run.state_path, "wb") as handle:
        pickle.dump({"format_version": 1, "step": 1, "payload": _Exploit()}, handle)
    with pytest.raises(UserError, match="trainer_state.pt: corrupt or foreign trainer state"):
        run.load_state()


def test_mismatched_weights_and_state_are_detected(tmp_path):
    run = RunFolder(tmp_path)
    run.save_model(tiny_model(), step=4)
    run.save_state({"step": 3})
    with pytest.raises(UserError, match="does not match"):
        run.load_state()


def test_atomic_write_leaves_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("good")

    def crash(tmp):
        tmp.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, crash)
    assert target.read_text() == "good"


def test_metrics_truncate_on_resume_and_survive_a_cut_line(tmp_path):
    run = RunFolder(tmp_path)
    for step in (1, 2, 3):
        run.append_metrics({"step": step, "train_loss": float(step)})
    with open(run.metrics_path, "a") as handle:
        handle.write('{"step": 4, "train_lo')  # a crash mid-write
    assert [r["step"] for r in run.read_metrics()] == [1, 2, 3]
    run.truncate_metrics(2)
    assert [r["step"] for r in run.read_metrics()] == [1, 2]
