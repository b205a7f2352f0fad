#!/usr/bin/env bash
# One unattended GPU check of lmlab (<= 8 minutes on an H100/H200), one JSON report.
#
#   bash benchmarks/gpu_check.sh            # on the GPU: gpt2-small shapes, cuda
#   bash benchmarks/gpu_check.sh --smoke    # anywhere: tiny shapes on the CPU, < 3 minutes
#
# Steps (each under its own `timeout`, each writing a JSON fragment; a failing step records its
# exit code and the end of its log, and the script goes on): the environment, `pytest -m cuda`,
# gpt2-small training lmlab vs GPT2LMHeadModel (bf16 + fused AdamW + SDPA, then also
# torch.compile), DDP as one torchrun rank (NCCL) vs plain, greedy decoding vs HF, BERT
# fine-tuning vs HF. Report: benchmarks/results/gpu_check.json (and $OUT/gpu_check.json when $OUT
# is set). Needs no network: random weights, local files. Fields: docs/results/gpu.md.
set -uo pipefail
cd "$(dirname "$0")/.."
MODE=gpu
[[ "${1:-}" == "--smoke" ]] && MODE=smoke
if [[ -n "${PYTHON:-}" ]]; then :; elif [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
FRAGMENTS=benchmarks/results/gpu_check
REPORT=benchmarks/results/gpu_check.json
rm -rf "$FRAGMENTS" && mkdir -p "$FRAGMENTS"
STARTED=$(date +%s)

if [[ $MODE == gpu ]]; then
  DEVICE=cuda
  TRAIN=(--preset-shape gpt2-small --steps 20 --repeats 1 --warmup 3)
  COMPILE=(--compile)
  DDP=(--steps 20)
  GENERATE=(--preset-shape gpt2-small --new-tokens 200 --repeats 3)
  BERT=(--steps 20 --batch-size 32)
  BUDGETS=(pytest=60 train=80 train_compile=180 ddp=50 generate=60 bert=40)  # 470 s in all
else
  DEVICE=cpu
  TRAIN=(--n-layer 2 --n-head 2 --n-embd 32 --block-size 32 --batch-size 4 --vocab-size 96 --steps 2 --repeats 1
         --warmup 2 --threads 1)
  COMPILE=(--compile --compile-backend aot_eager)  # the same tracing, no code generation: seconds on a CPU
  DDP=(--steps 5)
  GENERATE=(--n-layer 2 --n-head 2 --n-embd 32 --new-tokens 20 --repeats 1 --threads 1)
  BERT=(--steps 2 --warmup 1 --batch-size 4)
  BUDGETS=(pytest=60 train=60 train_compile=90 ddp=60 generate=40 bert=40)
fi
budget() { for pair in "${BUDGETS[@]}"; do [[ ${pair%%=*} == "$1" ]] && echo "${pair#*=}"; done; }

# step NAME COMMAND...: run under the step's budget; NAME.log, NAME.status (exit code, seconds)
step() {
  local name=$1 seconds=$(budget "$1") start=$(date +%s)
  shift
  echo "== $name (budget ${seconds}s): $*" >&2
  timeout --kill-after 10 "$seconds" "$@" >"$FRAGMENTS/$name.log" 2>&1
  local rc=$?
  echo "{\"rc\": $rc, \"seconds\": $(( $(date +%s) - start )), \"budget_s\": $seconds}" >"$FRAGMENTS/$name.status"
  echo "   rc $rc after $(( $(date +%s) - start ))s" >&2
}

{ nvidia-smi -L 2>&1 || echo "nvidia-smi: not available"; } >"$FRAGMENTS/nvidia_smi.txt"
"$PYTHON" - >"$FRAGMENTS/environment.json" 2>&1 <<'PY'
import json, platform, torch
cuda = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": cuda,
                  "device_name": torch.cuda.get_device_name(0) if cuda else platform.processor() or "cpu",
                  "bf16_supported": cuda and torch.cuda.is_bf16_supported(), "python": platform.python_version()}))
PY

step pytest "$PYTHON" -m pytest -m cuda tests -q -p no:cacheprovider --junitxml="$FRAGMENTS/pytest.xml"
step train "$PYTHON" benchmarks/gpt_train.py --device $DEVICE "${TRAIN[@]}" --dtype bf16 --fused-adamw on \
  --sides lmlab hf-sdpa --out "$FRAGMENTS/train.json"
step train_compile "$PYTHON" benchmarks/gpt_train.py --device $DEVICE "${TRAIN[@]}" --dtype bf16 --fused-adamw on \
  "${COMPILE[@]}" --sides lmlab hf-sdpa --out "$FRAGMENTS/train_compile.json"
step ddp "$PYTHON" benchmarks/ddp_check.py --device $DEVICE "${DDP[@]}" --out "$FRAGMENTS/ddp.json"
step generate "$PYTHON" benchmarks/generate.py --device $DEVICE "${GENERATE[@]}" --sides lmlab hf-sdpa \
  --out "$FRAGMENTS/generate.json"
step bert "$PYTHON" benchmarks/bert.py --random --device $DEVICE "${BERT[@]}" --out "$FRAGMENTS/bert.json"

"$PYTHON" benchmarks/gpu_report.py "$FRAGMENTS" "$REPORT" --mode $MODE --seconds $(( $(date +%s) - STARTED ))
if [[ -n "${OUT:-}" ]]; then mkdir -p "$OUT" && cp "$REPORT" "$OUT/gpu_check.json" && cp -r "$FRAGMENTS" "$OUT/"; fi
