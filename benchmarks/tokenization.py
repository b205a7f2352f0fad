"""Tokenizer benchmarks: lmlab against Hugging Face tokenizers, SentencePiece and tiktoken.

    python benchmarks/tokenization.py                       # Tiny Shakespeare and the 5 MB shakespeare corpus
    python benchmarks/tokenization.py --quick               # Tiny Shakespeare only
    taskset -c 0 python benchmarks/tokenization.py --rounds 5 --threads 1 2

Every side gets the same input: the corpus as lines, as read from a file (each with its ``\\n``),
through an iterator: lmlab ``train(lines)`` / ``encode_batch(lines)``, Hugging Face
``train_from_iterator(lines)`` / ``encode_batch(lines)``, SentencePiece
``sentence_iterator=lines``, tiktoken ``encode_ordinary_batch(lines)``.

- BPE training, vocab 8192: lmlab (byte-level, GPT-2 pre-tokenizer) vs HF tokenizers
  (byte-level ``BpeTrainer``) vs SentencePiece (``model_type=bpe``);
- Unigram training, vocab 8000: lmlab vs SentencePiece (``model_type=unigram``);
- GPT-2 encoding with GPT-2's own files: lmlab vs tiktoken (``encode_ordinary_batch``; and
  ``encode_ordinary`` called per line, as on lines the batch's thread pool costs more than the
  encoding) vs HF tokenizers (``encode_batch``, then ``.ids``). **Cold**, the headline: the
  first encoding in a fresh process (lmlab's pre-token cache empty); **warm**: the same lines
  encoded again (what a cache gives on text it has seen). The ids of all sides are compared.

Threads: HF ``RAYON_NUM_THREADS``, SentencePiece ``num_threads``, tiktoken ``num_threads``, all
set to ``--threads``; lmlab is pure Python, one thread whatever the setting.

Every measurement runs in its own process. ``--rounds N`` measures every side N times, the sides
in a different order each round (forward, then backward), and each ratio is taken within one
round, between neighbouring runs: the table shows the median over the rounds and the min - max
spread, of wall-clock time and of CPU time (of all the process's threads: on a machine shared
with other work it moves less than the wall clock; with more than one thread a peer's CPU time
exceeds its wall clock). **Ratio = lmlab's time / the peer's time: below 1 lmlab is faster,
above 1 it is slower.**
Writes every time to benchmarks/results/tokenizers.json. Needs ../shared/data (Tiny Shakespeare,
GPT-2's files) and the reference packages of ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from pathlib import Path

# Keep benchmarks/ off the import path: no sibling script may shadow a package the references import.
sys.path[:] = [p for p in sys.path if Path(p or os.getcwd()).resolve() != Path(__file__).resolve().parent]

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
RESULTS = REPO / "benchmarks" / "results" / "tokenizers.json"
BPE_VOCAB, UNIGRAM_VOCAB = 8192, 8000
TASKS = {  # task -> its sides, lmlab first
    "bpe-train": ["lmlab", "hf-tokenizers", "sentencepiece"],
    "unigram-train": ["lmlab", "sentencepiece"],
    "gpt2-encode": ["lmlab", "tiktoken", "tiktoken-per-line", "hf-tokenizers"],
}
THREADS_SETTING = {"lmlab": "pure Python", "hf-tokenizers": "RAYON_NUM_THREADS", "sentencepiece": "num_threads",
                   "tiktoken": "num_threads", "tiktoken-per-line": "no pool: always 1"}


# --- the corpora -------------------------------------------------------------------------------
def write_corpus(name: str, folder: Path) -> Path:
    """The corpus as a text file, one line per line; Tiny Shakespeare is already one."""
    if name == "tinyshakespeare":
        return SHARED_DATA / "tinyshakespeare" / "input.txt"
    from lmlab.data.corpora import load_corpus

    path = folder / f"{name}.txt"
    path.write_text("\n".join(document.text.strip("\n") for document in load_corpus(name).documents) + "\n",
                    encoding="utf-8")
    return path


# --- the measurements (each runs in its own process) ---------------------------------------------
def trainer(algorithm: str, side: str, threads: int):
    """`side`'s BPE or Unigram trainer, ready to run: a function from lines to its vocab size."""
    vocab_size = BPE_VOCAB if algorithm == "bpe" else UNIGRAM_VOCAB
    if side == "lmlab":
        from lmlab.tokenizers import TOKENIZERS

        for module in ("tqdm", "lmlab.tokenizers.unigram_train"):  # imported late by lmlab's training:
            importlib.import_module(module)  # here before the clock, as the peers' modules are
        return lambda lines: TOKENIZERS[algorithm]().train(iter(lines), vocab_size=vocab_size).vocab_size
    if side == "hf-tokenizers":
        import tokenizers

        def train_hf(lines):
            tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE())
            tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
            trainer = tokenizers.trainers.BpeTrainer(
                vocab_size=vocab_size, special_tokens=["<|endoftext|>"], show_progress=False,
                initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet())
            tokenizer.train_from_iterator(iter(lines), trainer=trainer)
            return tokenizer.get_vocab_size()

        return train_hf
    import sentencepiece

    def train_sentencepiece(lines):
        model = io.BytesIO()
        sentencepiece.SentencePieceTrainer.train(
            sentence_iterator=iter(lines), model_writer=model, model_type=algorithm, byte_fallback=True,
            vocab_size=vocab_size, num_threads=threads, minloglevel=2)
        return sentencepiece.SentencePieceProcessor(model_proto=model.getvalue()).get_piece_size()

    return train_sentencepiece


def gpt2_files() -> tuple[Path, Path]:
    return SHARED_DATA / "gpt2" / "encoder.json", SHARED_DATA / "gpt2" / "vocab.bpe"


def gpt2_encoder(side: str, threads: int):
    """`side`'s GPT-2 tokenizer, as a function from a list of lines to their lists of ids."""
    if side == "lmlab":
        from lmlab.tokenizers import BPETokenizer

        return BPETokenizer.from_gpt2_files(*gpt2_files()).encode_batch
    if side.startswith("tiktoken"):
        import tiktoken

        from lmlab.tokenizers.bpe import GPT2_PATTERN, from_symbols

        encoder = json.loads(gpt2_files()[0].read_text(encoding="utf-8"))
        ranks = {from_symbols(s): i for s, i in encoder.items() if s != "<|endoftext|>"}
        encoding = tiktoken.Encoding("gpt2-files", pat_str=GPT2_PATTERN, mergeable_ranks=ranks, special_tokens={})
        if side == "tiktoken-per-line":  # no thread pool: its cost per call is most of the batch's time on lines
            return lambda lines: [encoding.encode_ordinary(line) for line in lines]
        return lambda lines: encoding.encode_ordinary_batch(lines, num_threads=threads)
    import tokenizers

    tokenizer = tokenizers.Tokenizer(tokenizers.models.BPE.from_file(*map(str, gpt2_files())))
    tokenizer.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    return lambda lines: [encoding.ids for encoding in tokenizer.encode_batch(lines, add_special_tokens=False)]


def timed(work, lines: list[str]) -> tuple:
    """``work(lines)``, its wall-clock seconds and the CPU seconds of this process (all threads)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = work(lines)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def worker(task: str, side: str, corpus: Path, threads: int) -> None:
    with open(corpus, encoding="utf-8") as file:
        lines = list(file)
    if task == "gpt2-encode":  # cold: the first encoding in this process; warm: the same lines again
        encode_lines = gpt2_encoder(side, threads)
        ids, cold, cold_cpu = timed(encode_lines, lines)
        _, warm, warm_cpu = timed(encode_lines, lines)
        digest = hashlib.sha1(array("I", [i for line in ids for i in line]).tobytes()).hexdigest()
        result = {"cold": cold, "cold_cpu": cold_cpu, "warm": warm, "warm_cpu": warm_cpu,
                  "tokens": sum(map(len, ids)), "ids_sha1": digest}
    else:
        size, seconds, cpu = timed(trainer(task.split("-")[0], side, threads), lines)
        result = {"seconds": seconds, "seconds_cpu": cpu, "vocab_size": size}
    print(json.dumps({**result, "megabytes": corpus.stat().st_size / 1e6}))


def measure(task: str, side: str, corpus: Path, threads: int) -> dict:
    env = {**os.environ, "RAYON_NUM_THREADS": str(threads), "TOKENIZERS_PARALLELISM": "true"}
    command = [sys.executable, __file__, "--worker", task, side, str(corpus), "--threads", str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- the report ------------------------------------------------------------------------------------
def run_rounds(corpus: str, path: Path, threads: int, rounds: int, tasks: list[str]) -> list[dict]:
    """Every side of every task `rounds` times, the sides' order reversed every other round."""
    runs = []
    for round_ in range(rounds):
        for task in tasks:
            sides = TASKS[task]
            for side in sides if round_ % 2 == 0 else sides[::-1]:
                runs.append({"corpus": corpus, "threads": threads, "round": round_, "task": task, "side": side,
                             **measure(task, side, path, threads)})
                print(format_run(runs[-1]), flush=True)
    return runs


def format_run(run: dict) -> str:
    head = f"{run['corpus']:<16} {run['threads']}t round {run['round']} {run['task']:<14} {run['side']:<14}"
    if "error" in run:
        return f"{head} error: {run['error']}"
    if run["task"] == "gpt2-encode":
        return (f"{head} cold {run['cold']:7.3f} s (CPU {run['cold_cpu']:.3f})  warm {run['warm']:7.3f} s "
                f"(CPU {run['warm_cpu']:.3f})  {run['tokens']:,} tokens")
    return f"{head} {run['seconds']:7.3f} s (CPU {run['seconds_cpu']:.3f})  vocab {run['vocab_size']:,}"


def ratio_rows(runs: list[dict]) -> list[dict]:
    """lmlab / peer time within each round, per (corpus, threads, task, timing, peer): wall
    clock, and CPU time (all the process's threads)."""
    times: dict = {}  # (corpus, threads, task, timing, side) -> {round: (wall seconds, CPU seconds)}
    for run in runs:
        for timing in ("seconds", "cold", "warm"):
            if timing in run:
                key = (run["corpus"], run["threads"], run["task"], timing, run["side"])
                times.setdefault(key, {})[run["round"]] = (run[timing], run[f"{timing}_cpu"])
    rows = []
    for (corpus, threads, task, timing, side), peer in times.items():
        ours = times.get((corpus, threads, task, timing, "lmlab"), {})
        rounds = [r for r in peer if r in ours]
        if side == "lmlab" or not rounds:
            continue
        row = {"corpus": corpus, "task": task if timing == "seconds" else f"{task} ({timing})", "peer": side,
               "threads": threads, "rounds": len(rounds)}
        for clock, k in (("wall", 0), ("cpu", 1)):
            ratios = [ours[r][k] / peer[r][k] for r in rounds]
            row.update({f"lmlab_{clock}_s": statistics.median(t[k] for t in ours.values()),
                        f"peer_{clock}_s": statistics.median(t[k] for t in peer.values()),
                        f"{clock}_ratio": statistics.median(ratios), f"{clock}_ratio_min": min(ratios),
                        f"{clock}_ratio_max": max(ratios)})
        rows.append(row)
    return rows


def print_table(rows: list[dict], megabytes: dict) -> None:
    print("\nlmlab / peer = lmlab's time / the peer's time (below 1: lmlab faster); median over rounds "
          "(min - max); wall clock, and CPU time of all the process's threads\n")
    print("| corpus | task | lmlab s (threads) | peer | peer s (threads) | lmlab / peer, wall | lmlab / peer, CPU |")
    print("|---|---|---:|---|---:|---:|---:|")
    for r in rows:
        rate = ""
        if "encode" in r["task"]:
            mb = megabytes[r["corpus"]]
            rate = f", {mb / r['lmlab_wall_s']:.1f} vs {mb / r['peer_wall_s']:.1f} MB/s"
        print(f"| {r['corpus']} | {r['task']}{rate} | {r['lmlab_wall_s']:.3f} (1, pure Python) | {r['peer']} | "
              f"{r['peer_wall_s']:.3f} ({r['threads']}, {THREADS_SETTING[r['peer']]}) | "
              f"**{r['wall_ratio']:.2f}** ({r['wall_ratio_min']:.2f} - {r['wall_ratio_max']:.2f}) | "
              f"{r['cpu_ratio']:.2f} ({r['cpu_ratio_min']:.2f} - {r['cpu_ratio_max']:.2f}) |")


def id_agreement(runs: list[dict]) -> list[str]:
    """One line per corpus: do all encoders give the same ids?"""
    lines = []
    for corpus in dict.fromkeys(run["corpus"] for run in runs):
        digests = {run["side"]: run["ids_sha1"] for run in runs if run["corpus"] == corpus and "ids_sha1" in run}
        if not digests:
            continue
        same = len(set(digests.values())) == 1
        lines.append(f"{corpus}: GPT-2 ids {'identical' if same else 'DIFFER'} across {', '.join(sorted(digests))}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="Tiny Shakespeare only")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of every side, alternating")
    parser.add_argument("--threads", type=int, nargs="+", default=[1], help="the peers' thread counts")
    parser.add_argument("--tasks", nargs="+", choices=list(TASKS), default=list(TASKS), help="what to measure")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        task, side, corpus = args.worker
        return worker(task, side, Path(corpus), args.threads[0])
    if not (SHARED_DATA / "tinyshakespeare" / "input.txt").is_file():
        sys.exit(f"{SHARED_DATA} is absent: the benchmark needs Tiny Shakespeare and GPT-2's files")
    runs, megabytes = [], {}
    with tempfile.TemporaryDirectory() as folder:
        for corpus in ["tinyshakespeare"] + ([] if args.quick else ["shakespeare"]):
            path = write_corpus(corpus, Path(folder))
            megabytes[corpus] = path.stat().st_size / 1e6
            for threads in args.threads:
                runs += run_rounds(corpus, path, threads, args.rounds, args.tasks)
    rows = ratio_rows(runs)
    print_table(rows, megabytes)
    for line in id_agreement(runs):
        print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine(), "megabytes": megabytes, "runs": runs, "ratios": rows},
                                  indent=1) + "\n")
    print(f"\nwrote {RESULTS.relative_to(REPO)}")


def machine() -> dict:
    import importlib.metadata as metadata

    versions = {}
    for package in ("tokenizers", "sentencepiece", "tiktoken", "regex"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "affinity": sorted(os.sched_getaffinity(0)), "versions": versions}


if __name__ == "__main__":
    main()
