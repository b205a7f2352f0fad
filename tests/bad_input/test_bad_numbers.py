"""Bad numbers and bad --set assignments, for every training command: each refused before anything
is built or written, in one line that names the field and the allowed range."""

import dataclasses

import pytest
from badinput import refused, world  # noqa: F401  (world is a fixture)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lmlab.config import field_range
from lmlab.train.trainer import TrainConfig

RANGED = [f.name for f in dataclasses.fields(TrainConfig) if field_range(TrainConfig, f.name) is not None]


def outside(name: str) -> list[str]:
    """Values of TrainConfig.`name` just outside its Range, and ones that are not finite."""
    allowed = field_range(TrainConfig, name)
    values = ["nan", "inf"] if TrainConfig.__dataclass_fields__[name].type.startswith("Annotated[float") else []
    if allowed.low is not None:
        values.append(str(allowed.low - (0 if allowed.low_open else 1)))
    if allowed.high is not None:
        values.append(str(allowed.high + (0 if allowed.high_open else 1)))
    return values


def training_commands(world) -> dict[str, list]:
    """Each training command with valid data, so that only the bad setting can be wrong."""
    return {
        "train": ["train", "--data", world["corpus"], "--preset", "tiny"],
        "classify": ["classify", "train", "--model", "bow", "--data", world["glue"], "--preset", "tiny"],
        "seq2seq": ["seq2seq", "train", "--data", world["root"] / "no-parallel-text", "--preset", "tiny"],
        "bert": ["bert", "pretrain", "--data", world["corpus"], "--preset", "tiny"],
    }


CASES = [(command, name, value) for command in ("train", "classify", "seq2seq", "bert")
         for name in RANGED for value in outside(name)]


@pytest.mark.parametrize("command, name, value", CASES)
def test_every_training_setting_out_of_range_is_refused(command, name, value, world, capsys):
    argv = [*training_commands(world)[command], "--out", world["root"] / "never", "--set", f"{name}={value}"]
    refused(argv, f"train.{name} must be", capsys, world["root"])
    assert not (world["root"] / "never").exists()


RELATIONS_AND_SHAPES = [
    (["--set", "min_lr=0.5", "--set", "lr=0.1"], "min_lr (0.5) must be at most lr (0.1)"),
    (["--set", "lr=-1"], "train.lr must be > 0, got -1.0"),
    (["--set", "beta1=2"], "train.beta1 must be in [0, 1), got 2.0"),
    (["--set", "min_lr=-0.1"], "train.min_lr must be >= 0"),
    (["--set", "log_every=0"], "train.log_every must be >= 1"),
    (["--set", "eval_batches=0"], "train.eval_batches must be >= 1"),
    (["--tokenizer", "char", "--vocab-size", "1"], "data.vocab_size must be >= 2, got 1"),
    (["--tokenizer", "bpe", "--vocab-size", "0"], "data.vocab_size must be >= 2, got 0"),
    (["--set", "n_head=3"], "n_embd (32) must be divisible by n_head (3)"),
    (["--set", "n_kv_head=3", "--set", "n_head=4"], "n_kv_head (3) must divide n_head (4)"),
    (["--set", "dropout=1"], "model.dropout must be in [0, 1)"),
    (["--set", "pos=sinusoidal", "--set", "n_embd=33", "--set", "n_head=1"], "n_embd (33) must be even"),
    (["--set", "n_embd=1000000", "--set", "n_head=1"], "parameters: training it needs"),
    (["--set", "n_layer=0"], "model.n_layer must be >= 1"),
    (["--set", "block_size=-4"], "model.block_size must be >= 1"),
    (["--set", "val_fraction=1"], "data.val_fraction must be in (0, 1)"),
    (["--vocab-size", "0"], "data.vocab_size must be >= 2"),
    (["--vocab-size", "-7"], "data.vocab_size must be >= 2"),
    (["--max-steps", "0"], "train.max_steps must be >= 1"),
    (["--seed", "-1"], "train.seed must be in [0, 4294967295]"),
    (["--seed", str(2 ** 40)], "train.seed must be in [0, 4294967295]"),
    (["--set", "n_layers=2"], "unknown key 'n_layers'"),
    (["--set", "lr"], "--set expects key=value"),
    (["--set", "=3"], "--set expects key=value"),
    (["--set", "n_layer=two"], "'two' is not a valid int"),
    (["--set", "lr=fast"], "'fast' is not a valid float"),
    (["--set", "pos=spiral"], "is not a valid"),
    (["--set", "fused_qkv=maybe"], "is not a valid bool"),
    (["--set", "vocab_size=10"], "ambiguous"),
    (["--set", "train.nope=1"], "unknown key 'train.nope'"),
    (["--max-steps", "ten"], "invalid"),
    (["--preset", "huge"], "unknown preset 'huge'"),
    (["--model", "transformer"], "unknown model family 'transformer'"),
    (["--model", "rnn", "--set", "cell=lstm"], "contradicts --model rnn"),
    (["--tokenizer", "morse"], "neither an algorithm"),
]


@pytest.mark.parametrize("extra, message", RELATIONS_AND_SHAPES)
def test_relations_shapes_and_malformed_settings_are_refused(extra, message, world, capsys):
    refused(["train", "--data", world["corpus"], "--preset", "tiny", "--out", world["root"] / "never", *extra],
            message, capsys, world["root"])


WORD2VEC = [(["--dim", "0"], "dim must be >= 1"), (["--window", "-2"], "window must be >= 1"),
            (["--negative", "-1"], "negative must be >= 0"), (["--set", "negative=0"], "need negative >= 1"),
            (["--set", "alpha=0"], "alpha must be > 0"), (["--set", "min_alpha=1"], "min_alpha <= alpha"),
            (["--epochs", "0"], "epochs must be >= 1"), (["--threads", "0"], "--threads must be >= 1"),
            (["--seed", "-5"], "seed must be in [0, 4294967295]"), (["--set", "sample=-1"], "sample must be >= 0"),
            (["--min-count", "0"], "min_count must be >= 1"), (["--set", "arch=glove"], "is not a valid")]


@pytest.mark.parametrize("extra, message", WORD2VEC)
def test_word2vec_settings_are_refused(extra, message, world, capsys):
    refused(["word2vec", "train", "--data", world["corpus"], "--preset", "tiny", "--out", world["root"] / "never",
             *extra], message, capsys, world["root"])


QUERIES = [
    (["sample", "{lm}", "--temperature", "0"], "--temperature must be > 0"),
    (["sample", "{lm}", "--temperature", "nan"], "--temperature must be a finite number"),
    (["sample", "{lm}", "--top-k", "0"], "--top-k must be >= 1"),
    (["sample", "{lm}", "--top-p", "1.5"], "--top-p must be in (0, 1]"),
    (["sample", "{lm}", "--top-p", "0"], "--top-p must be in (0, 1]"),
    (["sample", "{lm}", "--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    (["sample", "{lm}", "--strategy", "beam", "--beams", "0"], "--beams must be >= 1"),
    (["sample", "{lm}", "--length-penalty", "-1"], "--length-penalty must be >= 0"),
    (["profile", "{lm}", "--batch-sizes", "1,x"], "--batch-sizes expects numbers"),
    (["profile", "{lm}", "--batch-sizes", "0"], "--batch-sizes must be >= 1"),
    (["profile", "{lm}", "--steps", "0"], "--steps must be >= 1"),
    (["profile", "{lm}", "--new-tokens", "1"], "--new-tokens must be >= 2"),
    (["seq2seq", "eval", "{seq2seq}", "--limit", "0"], "--limit must be >= 1"),
    (["translate", "{seq2seq}", "hello", "--beams", "-3"], "--beams must be >= 1"),
    (["word2vec", "similar", "{word2vec}", "fox", "-n", "0"], "-n must be >= 1"),
    (["word2vec", "analogy", "{word2vec}", "a", "b", "c", "-n", "-1"], "-n must be >= 1"),
    (["word2vec", "eval", "{word2vec}", "--restrict-vocab", "0"], "--restrict-vocab must be >= 1"),
    (["classify", "errors", "{classifier}", "--examples", "-1"], "--examples must be >= 0"),
    (["corpus", "show", "pydoc", "--chars", "-1"], "--chars must be >= 0"),
    (["tokenizer", "train", "--vocab-size", "0", "--out", "{root}/t.json"], "--vocab-size must be >= 1"),
    (["compare", "--preset", "tiny", "--max-steps", "0", "--out", "{root}/c"], "max_steps must be >= 1"),
    (["compare", "--preset", "tiny", "--budget-seconds", "-1", "--out", "{root}/c"], "budget_seconds must be > 0"),
    (["compare", "--preset", "tiny", "--seed", "-1", "--out", "{root}/c"], "--seed must be in"),
    (["attention", "{lm}", "text", "--out", "{root}/a.png", "--layer", "9"], "the model has layers 0..1"),
]


@pytest.mark.parametrize("argv, message", QUERIES)
def test_bad_numbers_of_every_other_command_are_refused(argv, message, world, capsys):
    refused([a.format(**world) for a in argv], message, capsys, world["root"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(RANGED), value=st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10 ** 12, max_value=10 ** 12)))
def test_any_number_is_accepted_exactly_when_it_is_in_range(name, value, world, capsys):
    """Hypothesis: a value outside the field's Range is always refused by name; one inside is never
    refused for that field (the command then stops at --tokenizer morse, checked after every range)."""
    from lmlab.cli import main

    allowed = field_range(TrainConfig, name)
    is_int = TrainConfig.__dataclass_fields__[name].type.startswith("Annotated[int")
    if is_int and isinstance(value, float):
        value = int(value) if value == value and abs(value) != float("inf") else 0
    inside = value == value and abs(value) != float("inf") and value in allowed
    argv = ["train", "--data", str(world["corpus"]), "--preset", "tiny", "--out", str(world["root"] / "never"),
            "--set", f"{name}={value}", "--tokenizer", "morse"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert (f"train.{name} must be" in err) != inside, (name, value, err)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.text(min_size=1, max_size=12).filter(lambda k: "=" not in k and k.strip() and "\x00" not in k))
def test_any_unknown_set_key_is_one_line_listing_the_valid_ones(key, world, capsys):
    from lmlab.cli import main

    dataclass_fields = {f.name for f in dataclasses.fields(TrainConfig)}
    if key.strip().removeprefix("train.") in dataclass_fields | {"n_layer", "n_head", "n_embd"}:
        return
    argv = ["train", "--data", str(world["corpus"]), "--preset", "tiny", "--set", f"{key}=1",
            "--out", str(world["root"] / "never")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
