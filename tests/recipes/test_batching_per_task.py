"""The batching protocol end to end, through the command line: how a global batch is cut (micro-
batches, DDP ranks) does not change the run, and a resumed run continues exactly.

Classification's loss is a mean over examples, so batch 4 x grad_accum 4 and batch 16 take the same
optimizer steps up to float rounding. (Token-level losses -- translation, MLM -- average over each
micro-batch's tokens, so there only the batches, not the losses, are independent of the cut:
tests/data/test_batching_protocol.py.)
"""

import random
import sys

import pytest
import torch
from safetensors.torch import load_file
from train.test_distributed import run as run_command
from train.test_distributed import torchrun

from lmlab.cli import main
from lmlab.train.checkpoint import RunFolder

WORDS = ["good", "bad", "film", "great", "awful", "story", "not", "fun", "dull", "cast", "really", "a"]


@pytest.fixture(scope="module")
def glue(tmp_path_factory):
    """A tiny GLUE-format folder: train.tsv (32 sentences) and dev.tsv (8), header sentence<TAB>label."""
    folder = tmp_path_factory.mktemp("glue")
    rng = random.Random(0)
    for name, count in (("train.tsv", 32), ("dev.tsv", 8)):
        lines = []
        for _ in range(count):
            sentence = [rng.choice(WORDS) for _ in range(rng.randint(1, 9))]  # lengths 1..9: padding varies
            lines.append(f"{' '.join(sentence)}\t{int(sentence.count('good') >= sentence.count('bad'))}\n")
        (folder / name).write_text("sentence\tlabel\n" + "".join(lines), encoding="utf-8")
    return folder


def losses(folder, key: str) -> list[float]:
    return [record[key] for record in RunFolder(folder).read_metrics() if key in record]


def assert_same_run(first, second) -> None:
    """Equal training and dev losses (within 1e-5) and final weights allclose."""
    for key in ("train_loss", "val_loss"):
        assert losses(first, key) and losses(first, key) == pytest.approx(losses(second, key), abs=1e-5), key
    weights, other = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert weights.keys() == other.keys()
    for name in weights:
        assert torch.allclose(weights[name], other[name], atol=1e-5), name


FAMILIES = {"bow": ["--model", "bow"], "bert": ["--model", "bert", "--init", "scratch", "--set", "dropout=0"]}


def classify(glue, out, family: str, *settings: str) -> list[str]:
    """4 steps of 16 of 32 examples: two epochs, a dev evaluation after each. In float32: bf16 autocast
    rounds batches of different sizes differently, and these runs must agree to 1e-5."""
    return ["classify", "train", *FAMILIES[family], "--data", str(glue), "--out", str(out), "--preset", "tiny",
            "--max-steps", "4", "--set", "log_every=1", "--set", "dtype=float32",
            *(arg for s in settings for arg in ("--set", s))]


@pytest.mark.parametrize("family", FAMILIES)
def test_classify_grad_accum_4_of_4_equals_one_batch_of_16(glue, tmp_path, family):
    whole, accumulated = tmp_path / "whole", tmp_path / "accumulated"
    assert main(classify(glue, whole, family, "batch_size=16")) == 0
    assert main(classify(glue, accumulated, family, "batch_size=4", "grad_accum=4")) == 0
    assert len(losses(whole, "train_loss")) == 4 and len(losses(whole, "val_loss")) == 2
    assert_same_run(whole, accumulated)


def test_classify_on_two_gloo_processes_equals_one_process_on_the_same_global_batch(glue, tmp_path):
    single, parallel = tmp_path / "single", tmp_path / "ddp"
    run_command([sys.executable, "-m", "lmlab", *classify(glue, single, "bert", "batch_size=16")])
    run_command([torchrun(), "--standalone", "--nproc_per_node", "2", "-m", "lmlab",
                 *classify(glue, parallel, "bert", "batch_size=8")])
    assert len(losses(parallel, "train_loss")) == 4 and len(losses(parallel, "val_loss")) == 2  # one writer
    assert_same_run(single, parallel)
    assert RunFolder(parallel).read_config()["train"]["batch_size"] == 8


@pytest.fixture(scope="module")
def parallel_text(tmp_path_factory):
    """train/val .en/.de: 64 / 8 little sentences and their word-for-word "translations"."""
    folder = tmp_path_factory.mktemp("parallel")
    rng = random.Random(1)
    for split, count in (("train", 64), ("val", 8)):
        sentences = [[rng.choice(WORDS) for _ in range(rng.randint(1, 6))] for _ in range(count)]
        (folder / f"{split}.en").write_text("".join(" ".join(s) + "\n" for s in sentences), encoding="utf-8")
        (folder / f"{split}.de").write_text("".join(" ".join(w.upper() for w in s) + "\n" for s in sentences),
                                            encoding="utf-8")
    return folder


def test_seq2seq_resume_gives_the_losses_of_the_uninterrupted_run(parallel_text, tmp_path):
    """6 steps, against 3 steps then --resume --max-steps 6 (a constant learning rate, so that the
    schedule of the first 3 steps does not depend on where the run was meant to end)."""
    def train(out, steps: int) -> list[str]:
        return ["seq2seq", "train", "--data", str(parallel_text), "--out", str(out), "--preset", "tiny",
                "--max-steps", str(steps), "--set", "log_every=1", "--set", "batch_size=4", "--set", "grad_accum=2",
                "--set", "warmup_steps=0", "--set", "min_lr=3e-3", "--set", "lr=3e-3"]

    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    assert main(train(uninterrupted, 6)) == 0
    assert main(train(resumed, 3)) == 0
    assert main(["seq2seq", "train", "--out", str(resumed), "--resume", "--max-steps", "6"]) == 0
    expected = losses(uninterrupted, "train_loss")
    assert len(expected) == 6 and losses(resumed, "train_loss") == pytest.approx(expected, abs=1e-6)



CONSTANT_LR = ["warmup_steps=1", "lr=3e-3", "min_lr=3e-3"]  # the schedule does not depend on where a run ends


def test_classify_resume_gives_the_losses_and_best_of_the_uninterrupted_run(glue, tmp_path):
    """4 steps straight, against 2 steps then the same command with --resume --max-steps 4."""
    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    assert main(classify(glue, uninterrupted, "bert", *CONSTANT_LR, "eval_every=1")) == 0
    first = classify(glue, resumed, "bert", *CONSTANT_LR, "eval_every=1")
    first[first.index("--max-steps") + 1] = "2"
    assert main(first) == 0
    assert main([*first, "--resume", "--max-steps", "4"]) == 0  # the same command line, resumed
    assert_same_run(uninterrupted, resumed)
    best = [(RunFolder(folder / "best").model_step(), losses(folder, "dev_accuracy")) for folder in (uninterrupted,
                                                                                                     resumed)]
    assert best[0] == best[1]


@pytest.fixture(scope="module")
def two_documents(tmp_path_factory):
    folder = tmp_path_factory.mktemp("documents")
    rng = random.Random(2)
    for name in ("a.txt", "b.txt"):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 10))) for _ in range(40)]
        (folder / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def test_bert_pretraining_resume_gives_the_losses_of_the_uninterrupted_run(two_documents, tmp_path):
    def pretrain(out, steps: int) -> list[str]:
        return ["bert", "pretrain", "--data", str(two_documents), "--out", str(out), "--preset", "tiny",
                "--max-steps", str(steps), "--set", "log_every=1", "--set", "data.vocab_size=120",
                *(arg for s in CONSTANT_LR for arg in ("--set", s))]

    uninterrupted, resumed = tmp_path / "uninterrupted", tmp_path / "resumed"
    assert main(pretrain(uninterrupted, 4)) == 0
    assert main(pretrain(resumed, 2)) == 0
    assert main([*pretrain(resumed, 4), "--resume"]) == 0
    expected = losses(uninterrupted, "train_loss")
    assert len(expected) == 4 and losses(resumed, "train_loss") == pytest.approx(expected, abs=1e-6)
