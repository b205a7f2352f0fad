"""`lmlab seq2seq train|eval`, `lmlab translate`, `lmlab attention` and `lmlab sample --strategy beam`,
end to end on tiny synthetic parallel text (seconds), and the mistakes they refuse."""

import json
import random
import subprocess
import sys

import pytest

from lmlab.cli import main
from lmlab.runs import load_run
from lmlab.train.checkpoint import RunFolder

WORDS = {"a": "ein", "dog": "Hund", "cat": "Katze", "runs": "läuft", "sleeps": "schläft", "big": "großer",
         "small": "kleiner", "red": "roter"}


@pytest.fixture(scope="module")
def parallel(tmp_path_factory):
    """train/val .en/.de: a word-for-word "translation" of random little sentences."""
    folder = tmp_path_factory.mktemp("parallel")
    rng = random.Random(0)
    for split, count in (("train", 300), ("val", 20)):
        sentences = [["a", rng.choice(["big", "small", "red"]), rng.choice(["dog", "cat"]),
                      rng.choice(["runs", "sleeps"])] for _ in range(count)]
        (folder / f"{split}.en").write_text("".join(" ".join(s) + ".\n" for s in sentences), encoding="utf-8")
        (folder / f"{split}.de").write_text("".join(" ".join(WORDS[w] for w in s) + ".\n" for s in sentences),
                                            encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def run(parallel, tmp_path_factory):
    out = tmp_path_factory.mktemp("seq2seq") / "run"
    assert main(["seq2seq", "train", "--data", str(parallel), "--out", str(out), "--preset", "tiny",
                 "--max-steps", "20", "--set", "log_every=1"]) == 0
    return out


def test_train_writes_a_run_folder_with_a_shared_vocabulary(run):
    config = RunFolder(run).read_config()
    assert config["kind"] == "seq2seq" and config["data"]["shared_vocab"]
    assert config["model"]["src_vocab_size"] == config["model"]["tgt_vocab_size"] and config["pairs"]["train"] == 300
    assert {"tokenizer.json", "model.safetensors", "trainer_state.pt", "metrics.jsonl"} <= {p.name for p in run.iterdir()}
    losses = [r["train_loss"] for r in RunFolder(run).read_metrics() if "train_loss" in r]
    assert len(losses) == 20 and losses[-1] < losses[0] - 1.0


def test_separate_vocabularies_and_exact_resume(parallel, tmp_path):
    out = tmp_path / "separate"
    common = ["seq2seq", "train", "--data", str(parallel), "--out", str(out), "--preset", "tiny", "--set", "log_every=1"]
    assert main([*common, "--max-steps", "6", "--set", "shared_vocab=false", "--set", "vocab_size=270"]) == 0
    run = load_run(out, expect="seq2seq")
    model, config = run.model, run.config
    assert (out / "source_tokenizer.json").is_file() and not config["model"]["share_embeddings"]
    assert model.source_embedding is not model.target_embedding
    assert main(["seq2seq", "train", "--out", str(out), "--resume", "--max-steps", "8"]) == 0
    steps = [r["step"] for r in RunFolder(out).read_metrics() if "train_loss" in r]
    assert steps == list(range(1, 9))


def test_eval_reports_sacrebleu_corpus_bleu_as_json(run, parallel, tmp_path, capsys):
    import sacrebleu

    out = tmp_path / "translations.txt"
    assert main(["seq2seq", "eval", str(run), "--limit", "8", "--beams", "2", "--json", "--out", str(out)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert {"bleu", "signature", "loss", "perplexity", "sentences"} <= set(result) and result["sentences"] == 8
    hypotheses = out.read_text(encoding="utf-8").splitlines()
    references = (parallel / "val.de").read_text(encoding="utf-8").splitlines()[:8]
    assert result["bleu"] == round(sacrebleu.corpus_bleu(hypotheses, [references]).score, 2)
    assert "tok:13a" in result["signature"]


def test_translate_prints_one_line_per_sentence(run, tmp_path, capsys):
    assert main(["translate", str(run), "a big dog runs.", "--beams", "1", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"] == "a big dog runs."
    lines = tmp_path / "in.txt"
    lines.write_text("a cat sleeps.\na red dog runs.\n", encoding="utf-8")
    assert main(["translate", str(run), "--file", str(lines)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2


@pytest.mark.parametrize("kind", ["cross", "encoder", "decoder"])
def test_attention_maps_of_a_translation_run(run, tmp_path, kind):
    out = tmp_path / f"{kind}.png"
    assert main(["attention", str(run), "a small cat sleeps.", "--out", str(out), "--kind", kind, "--beams", "1"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_gpt_with_rope_trains_samples_with_beams_and_draws_its_attention(tmp_path, text_file, capsys):
    out = tmp_path / "rope"
    assert main(["train", "--data", str(text_file), "--out", str(out), "--preset", "tiny", "--max-steps", "6",
                 "--set", "pos=rope"]) == 0
    assert RunFolder(out).read_config()["model"]["pos"] == "rope"
    capsys.readouterr()
    assert main(["sample", str(out), "--prompt", "Line 1", "--strategy", "beam", "--beams", "3",
                 "--max-new-tokens", "50"]) == 0  # 50 new tokens past a block of 32: RoPE extrapolates
    assert capsys.readouterr().out.startswith("Line 1")
    png = tmp_path / "gpt.png"
    assert main(["attention", str(out), "Line 1: the quick", "--out", str(png), "--layer", "0", "--head", "1"]) == 0
    assert png.stat().st_size > 1000


@pytest.mark.parametrize("args, message", [
    (["seq2seq", "train", "--preset", "tiny"], "--data DIR is required"),
    (["seq2seq", "train", "--data", "/no/such/dir"], "/no/such/dir/train.en not found"),
    (["translate", "/no/such/run", "hello"], "run folder not found"),
    (["seq2seq", "eval", "RUN", "--beams", "0"], "--beams must be >= 1"),
    (["seq2seq", "eval", "RUN", "--split", "test"], "test.en not found"),
    (["attention", "RUN", "hi", "--out", "x.png", "--kind", "self"], "this run has encoder, decoder, cross"),
    (["attention", "RUN", "hi", "--out", "x.png", "--layer", "5"], "the model has layers 0..0"),
    (["translate", "RUN"], "give the text to translate"),
])
def test_user_mistakes_exit_2_with_one_line(args, message, run, tmp_path):
    args = [str(run) if a == "RUN" else a for a in args]
    if args[:2] == ["seq2seq", "train"]:
        args += ["--out", str(tmp_path / "x")]
    result = subprocess.run([sys.executable, "-m", "lmlab", *args], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_translating_with_a_language_model_run_is_refused(tmp_path, text_file):
    out = tmp_path / "gpt"
    assert main(["train", "--data", str(text_file), "--out", str(out), "--preset", "tiny", "--max-steps", "2"]) == 0
    assert main(["translate", str(out), "hello"]) == 2
