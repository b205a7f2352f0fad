"""What every bad-input case asserts, and the folders the cases are made from.

A case is a command line that a user might type. Run in-process through `lmlab.cli.main`, it must
exit with code 2, print one line on stderr that names the problem (and no traceback), and leave
every file that existed before byte-identical.
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
from pathlib import Path

import pytest

from conftest import REPO
from lmlab.cli import main

OLD_RUNS = REPO / "tests" / "fixtures" / "runs-format-1"


def snapshot(folder: Path) -> dict[str, str]:
    """The SHA-256 of every file under `folder` (path -> digest)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def refused(argv: list, message: str, capsys, root: Path, any_line: bool = False) -> str:
    """Run `lmlab argv`: exit 2, one error line containing `message`, nothing under `root` changed.
    With `any_line`, progress lines may come before the error (it is the last line)."""
    before = snapshot(root)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    assert code == 2, argv
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert "Traceback" not in err, err
    assert lines and (any_line or len(lines) == 1), (argv, err)
    assert message in lines[-1] and lines[-1].startswith("lmlab"), (argv, message, lines[-1])
    assert snapshot(root) == before, f"{argv} changed files that existed before"
    return lines[-1]


def write_glue(folder: Path) -> Path:
    """train.tsv / dev.tsv: 24 and 8 little sentences, header sentence<TAB>label."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(0)
    words = ["good", "bad", "film", "great", "awful", "story", "not", "fun"]
    for name, count in (("train.tsv", 24), ("dev.tsv", 8)):
        rows = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(count)]
        (folder / name).write_text("sentence\tlabel\n" + "".join(f"{r}\t{int('good' in r)}\n" for r in rows),
                                   encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def world(tmp_path_factory) -> dict[str, Path]:
    """Everything a case needs, made once: runs of every kind, data files, a user's own folder."""
    root = tmp_path_factory.mktemp("world")
    paths = {"root": root}
    for kind in ("lm", "classifier", "seq2seq", "bert", "word2vec"):
        paths[kind] = Path(shutil.copytree(OLD_RUNS / kind, root / "runs" / kind))
    corpus = root / "corpus.txt"
    corpus.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(60)))
    paths["corpus"], paths["glue"] = corpus, write_glue(root / "glue")
    paths["trained"] = root / "runs" / "trained"  # a run with a trainer state, to resume
    assert main(["train", "--data", str(corpus), "--preset", "tiny", "--out", str(paths["trained"]),
                 "--max-steps", "3"]) == 0
    (root / "parallel").mkdir()
    for split in ("train", "val"):
        for language in ("en", "de"):
            (root / "parallel" / f"{split}.{language}").write_text("".join(f"a {language} line {i}\n"
                                                                            for i in range(20)))
    (root / "mine").mkdir()
    (root / "mine" / "notes.txt").write_text("my own notes\n")
    paths["mine"] = root / "mine"
    paths["gbk"] = root / "reviews.tsv"
    paths["gbk"].write_bytes("sentence\tlabel\n好电影\t1\n".encode("gbk"))
    paths["latin1"] = root / "latin1.txt"
    paths["latin1"].write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    paths["binary"] = root / "binary.txt"
    paths["binary"].write_bytes(b"\x00\x01\x02\xff" * 64)
    paths["deep"] = root / "deep.json"
    paths["deep"].write_text("[" * 100_000 + "]" * 100_000)
    paths["not_json"] = root / "broken.json"
    paths["not_json"].write_text('{"model": ')
    paths["readonly"] = root / "readonly"
    paths["readonly"].mkdir()
    paths["readonly"].chmod(0o555)
    return paths


def corrupted_copy(world: dict, kind: str, name: str, damage) -> Path:
    """A copy of the `kind` run whose file `name` is replaced by `damage(path)`."""
    folder = world["root"] / "corrupt" / f"{kind}-{name.replace('/', '-')}-{damage.__name__}"
    if not folder.exists():
        shutil.copytree(world[kind], folder)
        damage(folder / name)
    return folder


def edit_json(change):
    def damage(path: Path) -> None:
        document = json.loads(path.read_text())
        change(document)
        path.write_text(json.dumps(document))
    damage.__name__ = change.__name__
    return damage
