"""Two speed levers a training run pulls by itself when they pay: bf16 autocast and torch.compile.

**bf16 autocast** (``dtype=auto``). bfloat16 keeps float32's 8-bit exponent and drops 16 bits of
mantissa, so it has float32's range and needs no loss scaling. Under ``torch.autocast`` the matrix
products run in bf16 while the weights, the optimizer and reductions such as softmax, LayerNorm
and the loss stay float32: the step is faster, the model it trains is a float32 model. ``auto``
picks it where it pays: on CUDA devices that compute bf16, and on CPUs with AVX512-BF16 or AMX
instructions (without them bf16 is emulated and slower than float32) for models at least
`MIN_CPU_BF16_WIDTH` wide. Measured on this project's 2-core AVX512-BF16 machine, one thread, a GPT
training step (`benchmarks/gpt_train.py --sides lmlab lmlab-auto`): bf16 0.99x float32's speed at
width 128 (the `cpu` preset: its matrices are too small for the bf16 kernels to win), 1.24x at
192, 1.60x at 256 and 2.05x at 384 (6 layers, 256 tokens).

**torch.compile** (``compile=auto``). Compiling traces the model into one graph and generates fused
kernels for it: fewer passes over memory and no Python per operation. It costs a compilation
(tens of seconds on a GPU, minutes on a CPU core) before the first step, so ``auto`` measures
before it decides: it times a few eager steps, estimates the eager time left, and compiles only
when that time is at least `PAYBACK` times the expected compilation, the batches have one fixed
shape (a new shape recompiles) and a C++ compiler is there (Inductor's CPU backend needs one).
After compiling it times the compiled steps, and keeps them only if they are faster: on a CPU the
gain is not guaranteed (measured here with one thread at the cpu preset: compiled 0.82x eager).
If compilation fails, training goes on eagerly. Either way the log says what was chosen and why.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass

import torch

from lmlab.nn.quantize import cpu_computes_bf16

MIN_CPU_BF16_WIDTH = 192  # a training step's bf16 / fp32 speed on one core: 0.99x at 128, 1.24x at 192, 1.6x at 256
EXPECTED_COMPILE_SECONDS = {"cpu": 120.0, "cuda": 60.0}  # measured orders of magnitude, small GPTs
PAYBACK = 10  # compile only when the eager time left is >= 10x the expected compilation
PROBE_STEPS = 5  # eager steps timed before the decision (after one warm-up step)


def model_width(model: torch.nn.Module) -> int:
    """The most common input size of the model's Linear layers: n_embd for a Transformer."""
    sizes = Counter(m.in_features for m in model.modules() if isinstance(m, torch.nn.Linear))
    return sizes.most_common(1)[0][0] if sizes else 0


def choose_autocast(setting: str, device: torch.device, width: int) -> tuple[torch.dtype | None, str]:
    """The autocast dtype for ``dtype`` = auto | float32 | bfloat16 (None: no autocast), and why.
    `width` is the model's (`model_width`): on a CPU, bf16 pays only from MIN_CPU_BF16_WIDTH."""
    if setting == "float32":
        return None, "float32 (as set)"
    if setting == "bfloat16":
        return torch.bfloat16, "bf16 autocast (as set)"
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return torch.bfloat16, "bf16 autocast (auto: this GPU computes bf16)"
        return None, "float32 (auto: this GPU has no bf16)"
    if device.type != "cpu" or not cpu_computes_bf16():
        return None, f"float32 (auto: no native bf16 on this {device.type})"
    if width < MIN_CPU_BF16_WIDTH:
        return None, (f"float32 (auto: width {width} < {MIN_CPU_BF16_WIDTH}, where bf16 stops paying on a CPU; "
                      f"--set dtype=bfloat16 forces it)")
    return torch.bfloat16, f"bf16 autocast (auto: this CPU has AVX512-BF16/AMX and the model is {width} wide)"


def compiler_available(device: torch.device) -> bool:
    """Inductor generates C++ for CPUs (and Triton for GPUs): a CPU needs a C++ compiler."""
    return device.type != "cpu" or any(shutil.which(name) for name in ("c++", "g++", "clang++"))


@dataclass
class CompilePlan:
    """What ``compile=auto`` decided from the probe: compile or not, and the sentence for the log."""

    compile: bool
    reason: str


def plan_compile(seconds_per_step: float, steps_left: int, fixed_shapes: bool, device: torch.device) -> CompilePlan:
    """Compile when the eager time left repays the expected compilation PAYBACK times over."""
    eager_left = seconds_per_step * steps_left
    expected = EXPECTED_COMPILE_SECONDS.get(device.type, EXPECTED_COMPILE_SECONDS["cuda"])
    measured = f"{steps_left} steps left x {seconds_per_step:.3f} s = {eager_left / 60:.1f} min eager"
    if not fixed_shapes:
        return CompilePlan(False, "off (auto: the batches change shape, every new shape would recompile)")
    if not compiler_available(device):
        return CompilePlan(False, "off (auto: no C++ compiler for Inductor's CPU code)")
    if eager_left < PAYBACK * expected:
        return CompilePlan(False, f"off (auto: {measured}; compiling costs about {expected / 60:.0f} min and "
                                  f"pays from {PAYBACK * expected / 60:.0f} min of eager steps)")
    return CompilePlan(True, f"on (auto: {measured} >= {PAYBACK} x the ~{expected / 60:.0f} min compilation)")


def batch_shapes(micro_batches) -> tuple:
    """The shapes of a step's micro-batches: equal for every step means compiled code is reused."""
    return tuple(tuple(tuple(getattr(t, "shape", ())) for t in batch) for batch in micro_batches)


class AutoCompile:
    """``compile=auto`` while training: warm up, time eager steps, maybe compile, keep it only if faster.

    The Trainer asks `module()` which model to run, and reports every step's wall time and batch
    shapes to `step_done`; `say(sentence)` writes each decision to the log. Phases: one warm-up
    step, PROBE_STEPS timed eager steps, the decision; if compiling, one step that compiles
    (untimed), PROBE_STEPS timed compiled steps, then the verdict.
    """

    def __init__(self, eager: torch.nn.Module, device: torch.device, say) -> None:
        self.eager, self.device, self.say = eager, device, say
        self.compiled: torch.nn.Module | None = None
        self.phase = "warm-up"
        self.eager_seconds: list[float] = []
        self.compiled_seconds: list[float] = []
        self.shapes: set[tuple] = set()

    def module(self) -> torch.nn.Module:
        return self.compiled if self.compiled is not None else self.eager

    @property
    def deciding(self) -> bool:
        """True until the verdict: the steps still need timing."""
        return self.phase != "done"

    @property
    def compiling(self) -> bool:
        """True during the step that runs the compiler (where a failure falls back to eager)."""
        return self.phase == "compiling"

    def failed(self, error: Exception) -> None:
        self.compiled, self.phase = None, "done"
        self.say(f"compile: off (auto: compilation failed, training on eagerly: {type(error).__name__}: "
                 f"{str(error).splitlines()[0] if str(error) else ''})")

    def step_done(self, seconds: float, shapes: tuple, steps_left: int) -> None:
        if self.phase == "warm-up":
            self.phase = "probe"
        elif self.phase == "probe":
            self.eager_seconds.append(seconds)
            self.shapes.add(shapes)
            if len(self.eager_seconds) == PROBE_STEPS:
                self._decide(steps_left)
        elif self.phase == "compiling":
            self.phase = "probe compiled"
        elif self.phase == "probe compiled":
            self.compiled_seconds.append(seconds)
            if len(self.compiled_seconds) == PROBE_STEPS:
                self._verdict()

    def _decide(self, steps_left: int) -> None:
        plan = plan_compile(min(self.eager_seconds), steps_left, len(self.shapes) == 1, self.device)
        self.say(f"compile: {plan.reason}")
        if plan.compile:
            self.compiled, self.phase = torch.compile(self.eager), "compiling"
        else:
            self.phase = "done"

    def _verdict(self) -> None:
        eager, compiled = min(self.eager_seconds), min(self.compiled_seconds)
        if compiled < eager:
            self.say(f"compile: kept ({compiled:.3f} s per compiled step vs {eager:.3f} s eager, "
                     f"{eager / compiled:.2f}x)")
        else:
            self.compiled = None
            self.say(f"compile: dropped, back to eager ({compiled:.3f} s per compiled step vs {eager:.3f} s eager)")
        self.phase = "done"
