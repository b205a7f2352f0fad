"""The run folder: everything needed to reopen, sample, evaluate or resume a run.

    config.json         model + training + data config, lmlab version, format version
    tokenizer.json      the tokenizer the model was trained with
    model.safetensors   weights (safetensors: no pickle, so loading runs no code); `lmlab quantize`
                        writes them as bf16, or as int8 with a float32 scale per row
    trainer_state.pt    optimizer, step, RNG states; read with torch.load(weights_only=True)
    metrics.jsonl       one JSON object per logged step / evaluation
    loss.png            the curves

Every file is written atomically (`lmlab.io`): to a temporary name in the same folder, flushed
to disk, then renamed over the old one. A crash at any moment leaves either the old file or the
new one, never half of one. The weights carry their step in the safetensors
metadata, so a resume can check that weights and trainer state belong together.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, safe_open, save_model

from lmlab import __version__
from lmlab.errors import UserError
from lmlab.io import atomic_write, atomic_write_json, atomic_write_text, read_text
from lmlab.nn.quantize import compress_state, expand_state, tied_names, use_int8_kernels
from lmlab.outputs import KINDS, kind_name, with_kind
from lmlab.tokenizers import Tokenizer

RUN_FORMAT_VERSION = 1

def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The plain module inside DDP and/or torch.compile wrappers."""
    model = getattr(model, "module", model)  # DistributedDataParallel
    return getattr(model, "_orig_mod", model)  # torch.compile


class RunFolder:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.config_path = self.path / "config.json"
        self.tokenizer_path = self.path / "tokenizer.json"
        self.model_path = self.path / "model.safetensors"
        self.state_path = self.path / "trainer_state.pt"
        self.metrics_path = self.path / "metrics.jsonl"
        self.plot_path = self.path / "loss.png"

    # --- config ---------------------------------------------------------------------------
    def write_config(self, config: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        document = {"format_version": RUN_FORMAT_VERSION, "lmlab_version": __version__, **config}
        atomic_write_json(self.config_path, document, indent=2)

    def is_run(self) -> bool:
        """Whether the folder holds an lmlab run (a config.json with a format version)."""
        try:
            return "format_version" in json.loads(self.config_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError):
            return False

    def read_config(self, expect: str | tuple[str, ...] | None = None, command: str = "this command") -> dict:
        """config.json, with its `kind`; a run of another kind than `expect` is refused by name."""
        config = with_kind(self._read_config())
        expected = (expect,) if isinstance(expect, str) else expect
        if expected and config["kind"] not in expected:
            what = kind_name(config["kind"])
            wanted = " or ".join(kind_name(kind) for kind in expected)
            raise UserError(f"{self.path} is {what}; `{command}` needs {wanted} (`{KINDS[expected[0]][1]}` "
                            f"makes one)")
        return config

    def _read_config(self) -> dict:
        if not self.path.is_dir():
            raise UserError(f"run folder not found: {self.path}")
        if not self.config_path.is_file():
            raise UserError(f"{self.config_path} is missing: {self.path} is not an lmlab run folder")
        try:
            config = json.loads(self.config_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise UserError(f"{self.config_path}: corrupt config ({error})") from None
        if not isinstance(config, dict) or "format_version" not in config:
            raise UserError(f"{self.config_path}: not an lmlab run config (no format_version)")
        if config["format_version"] != RUN_FORMAT_VERSION:
            raise UserError(f"{self.config_path}: run format version {config['format_version']!r} is not "
                            f"supported (this lmlab {__version__} reads version {RUN_FORMAT_VERSION})")
        return config

    def load_tokenizer(self, name: str = "tokenizer.json"):
        """The tokenizer saved with the run (or another file of it, e.g. a source side's)."""
        path = self.path / name
        if not path.is_file():
            raise UserError(f"{path} is missing: {self.path} is not a complete run folder")
        return Tokenizer.load(path)

    # --- weights --------------------------------------------------------------------------
    def save_model(self, model: torch.nn.Module, step: int) -> None:
        metadata = {"format_version": str(RUN_FORMAT_VERSION), "step": str(step)}
        atomic_write(self.model_path, lambda tmp: save_model(unwrap(model), str(tmp), metadata=metadata))

    def model_step(self) -> int:
        try:
            with safe_open(str(self.model_path), framework="pt") as handle:
                return int((handle.metadata() or {}).get("step", -1))
        except (SafetensorError, OSError, ValueError) as error:
            raise UserError(f"{self.model_path}: not a readable safetensors file ({error})") from None

    def load_model(self, model: torch.nn.Module) -> None:
        """Load weights into `model`, refusing a missing, corrupt or mismatched file by name."""
        if not self.model_path.is_file():
            raise UserError(f"{self.model_path} is missing: the run has no saved weights yet")
        try:
            missing, unexpected = load_model(unwrap(model), str(self.model_path), strict=False)
        except (SafetensorError, OSError) as error:
            raise UserError(f"{self.model_path}: not a readable safetensors file ({error})") from None
        except RuntimeError as error:  # shape mismatch
            raise UserError(f"{self.model_path}: weights do not fit the model in config.json "
                            f"({str(error).splitlines()[0]})") from None
        if missing or unexpected:
            raise UserError(f"{self.model_path}: weights do not fit the model in config.json "
                            f"(missing {sorted(missing)[:3]}, unexpected {sorted(unexpected)[:3]})")

    def save_compressed(self, model: torch.nn.Module, dtype: str, step: int) -> None:
        """The weights as bf16, or int8 with a scale per row (`lmlab.nn.quantize`): `lmlab quantize`."""
        from safetensors.torch import save_file

        tensors = compress_state(unwrap(model).state_dict(), dtype)
        metadata = {"format_version": str(RUN_FORMAT_VERSION), "step": str(step), "dtype": dtype}
        atomic_write(self.model_path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))

    def load_compressed(self, model: torch.nn.Module, dtype: str) -> None:
        """Load weights written by `save_compressed` into `model`: bf16 kept (the model is cast to bf16
        and computes in it); int8 dequantized to float32, then every Linear that torch's int8 kernel
        can run computes from the int8 weights themselves (`lmlab.nn.quantize.use_int8_kernels`)."""
        from safetensors.torch import load_file

        if not self.model_path.is_file():
            raise UserError(f"{self.model_path} is missing: the run has no saved weights yet")
        try:
            stored = load_file(str(self.model_path))
            state = expand_state(stored)
        except (SafetensorError, OSError) as error:
            raise UserError(f"{self.model_path}: not a readable safetensors file ({error})") from None
        model = unwrap(model)
        if dtype == "bf16":
            model.to(torch.bfloat16)
        expected = set(model.state_dict()) - tied_names(model.state_dict())
        if set(state) != expected:
            raise UserError(f"{self.model_path}: weights do not fit the model in config.json (missing "
                            f"{sorted(expected - set(state))[:3]}, unexpected {sorted(set(state) - expected)[:3]})")
        try:
            model.load_state_dict(state, strict=False)
        except RuntimeError as error:  # shape mismatch
            raise UserError(f"{self.model_path}: weights do not fit the model in config.json "
                            f"({str(error).splitlines()[0]})") from None
        if dtype == "int8":
            use_int8_kernels(model, stored)

    def save_arrays(self, arrays: dict, step: int) -> None:
        """Numpy arrays (a counted model such as the n-gram's) as model.safetensors."""
        from safetensors.numpy import save_file

        metadata = {"format_version": str(RUN_FORMAT_VERSION), "step": str(step)}
        atomic_write(self.model_path, lambda tmp: save_file(arrays, str(tmp), metadata=metadata))

    def load_arrays(self) -> dict:
        from safetensors.numpy import load_file

        if not self.model_path.is_file():
            raise UserError(f"{self.model_path} is missing: the run has no saved model yet")
        try:
            return load_file(str(self.model_path))
        except (SafetensorError, OSError) as error:
            raise UserError(f"{self.model_path}: not a readable safetensors file ({error})") from None

    # --- trainer state --------------------------------------------------------------------
    def save_state(self, state: dict) -> None:
        state = {"format_version": RUN_FORMAT_VERSION, **state}
        atomic_write(self.state_path, lambda tmp: torch.save(state, tmp))

    def load_state(self) -> dict:
        if not self.state_path.is_file():
            raise UserError(f"{self.state_path} is missing: nothing to resume in {self.path}")
        try:
            state = torch.load(self.state_path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for corrupt or foreign files
            first_line = (str(error).splitlines() or ["empty file"])[0][:200]
            raise UserError(f"{self.state_path}: corrupt or foreign trainer state "
                            f"({type(error).__name__}: {first_line})") from None
        if not isinstance(state, dict) or state.get("format_version") != RUN_FORMAT_VERSION:
            raise UserError(f"{self.state_path}: not an lmlab trainer state of format {RUN_FORMAT_VERSION}")
        if self.model_step() != state.get("step"):
            raise UserError(f"{self.state_path} (step {state.get('step')}) does not match {self.model_path} "
                            f"(step {self.model_step()}): the run was interrupted while checkpointing")
        if {"tokens_seen", "best_val_loss", "optimizer", "rng"} - set(state):
            raise UserError(f"{self.state_path}: not an lmlab trainer state of format {RUN_FORMAT_VERSION}")
        return state

    # --- metrics --------------------------------------------------------------------------
    def read_metrics(self) -> list[dict]:
        """The records of metrics.jsonl. The last line may be cut short by a crash (it is skipped);
        any other line that is not a JSON object means the file is not lmlab's: refused by name."""
        if not self.metrics_path.is_file():
            return []
        lines = read_text(self.metrics_path).splitlines()
        records = []
        for number, line in enumerate(lines, start=1):
            try:
                record = json.loads(line)
            except (json.JSONDecodeError, RecursionError):
                if number == len(lines):
                    continue  # a line cut short by a crash
                record = None
            if not isinstance(record, dict):
                raise UserError(f"{self.metrics_path}:{number}: not a metrics record (a JSON object per line)")
            records.append(record)
        return records

    def truncate_metrics(self, last_step: int) -> None:
        """On resume, forget records logged after the checkpoint (they will be logged again)."""
        kept = [r for r in self.read_metrics() if r.get("step", 0) <= last_step]
        text = "".join(json.dumps(r) + "\n" for r in kept)
        atomic_write_text(self.metrics_path, text)

    def append_metrics(self, record: dict) -> None:
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
