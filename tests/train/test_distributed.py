"""Data parallelism: 2 gloo processes on CPU take the same steps as 1 process on the same global batch."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmlab.train.checkpoint import RunFolder

COMMON = ["train", "--preset", "tiny", "--max-steps", "6", "--set", "log_every=1", "--set", "dropout=0",
          "--set", "eval_every=3", "--set", "dtype=float32"]  # bf16 rounds batches of 8 and 4 differently


def torchrun() -> str:
    path = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or shutil.which("torchrun")
    if path is None:
        pytest.skip("torchrun is not installed")
    return path


def run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]


def test_two_process_gloo_run_matches_one_process_on_the_same_global_batch(tmp_path, text_file):
    single, parallel = tmp_path / "single", tmp_path / "ddp"
    run([sys.executable, "-m", "lmlab", *COMMON, "--data", str(text_file), "--out", str(single),
         "--set", "batch_size=8"])
    run([torchrun(), "--standalone", "--nproc_per_node", "2", "-m", "lmlab", *COMMON, "--data", str(text_file),
         "--out", str(parallel), "--set", "batch_size=4"])

    def losses(folder):
        records = RunFolder(folder).read_metrics()
        return ([r["train_loss"] for r in records if "train_loss" in r],
                [r["val_loss"] for r in records if "val_loss" in r])

    (train_1, val_1), (train_2, val_2) = losses(single), losses(parallel)
    assert len(train_1) == len(train_2) == 6 and len(val_1) == len(val_2) == 2
    assert train_1 == pytest.approx(train_2, abs=1e-5)  # the loss averaged over ranks is the global mean
    assert val_1 == pytest.approx(val_2, abs=1e-5)
    weights_1, weights_2 = load_file(single / "model.safetensors"), load_file(parallel / "model.safetensors")
    for name in weights_1:
        assert torch.allclose(weights_1[name], weights_2[name], atol=1e-5), name
    # one writer: the DDP run folder has exactly one set of files and the config records the batch
    assert RunFolder(parallel).read_config()["train"]["batch_size"] == 4
