"""Recipe: `lmlab quantize RUN --dtype int8|bf16 --out OUT`, a GPT run's weights in less space.

    RUN (a GPT run) -> its weights compressed (`lmlab.nn.quantize`) -> OUT, a language-model run

OUT holds RUN's config.json plus ``"quantized": {"dtype", "scheme", "source", "step"}``, its
tokenizer.json and validation ids (so `lmlab eval OUT` scores the same tokens), and a
model.safetensors of bf16 tensors, or of int8 matrices with their float32 row scales.
`lmlab.runs.load_run` opens it: bf16 weights as a model that computes in bf16; int8 weights kept
int8 in the Linear layers that torch's weight-only int8 kernel can run (`lmlab.nn.quantize.
use_int8_kernels`: native bf16 on the CPU, input sizes multiples of 16), dequantized to float32
elsewhere. So int8 shrinks the file by about 4x and, where the kernel runs, the bytes a decoding
step reads. A run that is already quantized is refused: its weights have lost what the original had.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from lmlab.errors import UserError
from lmlab.outputs import claim_folder, mark_folder
from lmlab.recipes.common import say
from lmlab.recipes.families import lm_family
from lmlab.recipes.options import QuantizeOptions
from lmlab.runs import Run, load_run
from lmlab.train.checkpoint import RunFolder

SCHEMES = {
    "int8": "weight-only int8: every matrix symmetric per row (output channel), q = round(w / s), "
            "s = max|row| / 127 in float32; vectors (biases, norms) float32",
    "bf16": "every floating tensor rounded to bfloat16",
}


def open_source(path: str) -> Run:
    """The run to quantize: a GPT language-model run with its original weights."""
    run = load_run(path, "cpu", expect="lm", command="lmlab quantize")
    if run.family != "gpt":
        raise UserError(f"{path} is not a GPT run (its model: {lm_family(run.family).display_name}); "
                        f"`lmlab quantize` reads GPT runs")
    if "quantized" in run.config:
        record = run.config["quantized"]
        raise UserError(f"{path} is already quantized ({record.get('dtype')}): quantize the run it was made "
                        f"from ({record.get('source')})")
    return run


def write_quantized(run: Run, dtype: str, out: Path) -> dict:
    """OUT as a quantized copy of `run`; returns the file sizes."""
    source = RunFolder(run.path)
    folder = RunFolder(mark_folder(out, "lm"))
    step = source.model_step()
    config = {key: value for key, value in run.config.items() if key not in ("format_version", "lmlab_version")}
    config["quantized"] = {"dtype": dtype, "scheme": SCHEMES[dtype], "source": str(run.path.resolve()), "step": step}
    folder.write_config(config)
    shutil.copyfile(source.tokenizer_path, folder.tokenizer_path)
    if (source.path / "data" / "val.npy").is_file():
        (folder.path / "data").mkdir(exist_ok=True)
        shutil.copyfile(source.path / "data" / "val.npy", folder.path / "data" / "val.npy")
    folder.save_compressed(run.model, dtype, step)
    before, after = source.model_path.stat().st_size, folder.model_path.stat().st_size
    return {"dtype": dtype, "bytes_before": before, "bytes_after": after, "ratio": before / after}


def quantize_command(options: QuantizeOptions) -> None:
    run = open_source(options.run)
    out = claim_folder(options.out, "lm", force=options.force, command="lmlab quantize", mark=False)
    sizes = write_quantized(run, options.dtype, out)
    if options.json:
        print(json.dumps(sizes))
    say(f"{run.path} -> {out} ({options.dtype}): model.safetensors {sizes['bytes_before'] / 1e6:.2f} MB -> "
        f"{sizes['bytes_after'] / 1e6:.2f} MB ({sizes['ratio']:.1f}x smaller); `lmlab sample {out}` and "
        f"`lmlab eval {out}` open it")
