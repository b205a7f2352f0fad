"""`lmlab quantize RUN --dtype int8|bf16 --out OUT`: about 4x and 2x smaller files that `eval` and
`sample` open, within the rounding bound of the original weights, decoding the original's greedy
tokens; a run that is not a GPT run, a bad dtype and an already quantized run are refused in one line."""

import json

import pytest
import torch
from safetensors.torch import load_file

from lmlab.cli import main
from lmlab.generate.sampling import SamplingConfig, generate
from lmlab.nn.quantize import Int8Linear, expand_state, int8_kernel_usable, storage_names
from lmlab.runs import load_run


def run(argv, capsys) -> str:
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny GPT trained for 100 steps on pydoc (seed 1337), with its int8 and bf16 copies."""
    root = tmp_path_factory.mktemp("quantize")
    assert main(["train", "--data", "pydoc", "--preset", "tiny", "--out", str(root / "fp32"), "--max-steps", "100",
                 "--set", "n_embd=64", "--set", "eval_every=0", "--set", "checkpoint_every=0"]) == 0
    for dtype in ("int8", "bf16"):
        assert main(["quantize", str(root / "fp32"), "--dtype", dtype, "--out", str(root / dtype)]) == 0
    return root


def greedy(folder, steps=100) -> list[int]:
    model = load_run(folder).model
    prompt = torch.tensor([[0]])  # the char tokenizer's end-of-text: the start of a document
    return [int(t) for t in generate(model, prompt, steps, SamplingConfig(strategy="greedy"))]


def test_files_are_about_four_and_two_times_smaller(trained):
    size = {name: (trained / name / "model.safetensors").stat().st_size for name in ("fp32", "int8", "bf16")}
    assert 3.3 < size["fp32"] / size["int8"] < 4.0  # int8 matrices; float32 vectors, row scales and the header
    assert 1.9 < size["fp32"] / size["bf16"] <= 2.0
    record = load_run(trained / "int8").config["quantized"]
    assert record["dtype"] == "int8" and record["source"] == str((trained / "fp32").resolve())


def test_int8_weights_are_within_half_a_step_of_the_originals_and_bf16_is_torch_rounding(trained):
    original = load_run(trained / "fp32").model.state_dict()
    bf16 = load_run(trained / "bf16").model.state_dict()
    int8 = expand_state(load_file(str(trained / "int8" / "model.safetensors")))  # tied names stored once
    for name, weight in original.items():
        if name not in int8:
            assert storage_names(original)[name] in int8, name
            continue
        assert torch.equal(bf16[name], weight.to(torch.bfloat16)), name
        if weight.dim() == 2:  # a row's step is max|row| / 127
            step = weight.abs().amax(dim=1, keepdim=True) / 127
            assert ((int8[name] - weight).abs() <= step / 2 * (1 + 1e-5)).all(), name
        else:
            assert torch.equal(int8[name], weight), name


def test_quantized_runs_evaluate_close_to_the_original_and_decode_its_greedy_tokens(trained, capsys):
    loss = {name: json.loads(run(["eval", trained / name, "--json"], capsys))["loss"]
            for name in ("fp32", "int8", "bf16")}
    assert abs(loss["int8"] - loss["fp32"]) < 0.01 and abs(loss["bf16"] - loss["fp32"]) < 0.01, loss
    reference = greedy(trained / "fp32")
    assert greedy(trained / "int8") == reference  # all 100 greedy tokens of this seeded model
    assert greedy(trained / "bf16") == reference
    model = load_run(trained / "int8").model
    kernels = [m for m in model.modules() if isinstance(m, Int8Linear)]
    assert len(kernels) == (1 + 4 * model.config.n_layer if int8_kernel_usable(torch.nn.Linear(64, 1)) else 0)
    text = run(["sample", trained / "int8", "--prompt", "The ", "--max-new-tokens", "8", "--seed", "0"], capsys)
    assert text.startswith("The ")


@pytest.mark.parametrize("source, extra, out, message", [
    ("fp32", ["--dtype", "int4"], None, "invalid choice: 'int4'"),
    ("int8", ["--dtype", "int8"], None, "is already quantized (int8): quantize the run it was made from"),
    ("ngram", ["--dtype", "bf16"], None, "is not a GPT run (its model: n-gram); `lmlab quantize` reads GPT runs"),
    ("fp32", ["--dtype", "bf16"], "int8", "already holds a run"),
])
def test_mistakes_are_refused_in_one_line(trained, tmp_path, capsys, source, extra, out, message):
    if source == "ngram":
        run(["train", "--model", "ngram", "--data", "pydoc", "--preset", "tiny", "--out", tmp_path / "ngram"], capsys)
    folder = tmp_path / "ngram" if source == "ngram" else trained / source
    try:
        code = main(["quantize", str(folder), *extra, "--out", str(trained / out if out else tmp_path / "out")])
    except SystemExit as stop:  # a usage mistake: argparse's own exit
        code = stop.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
