"""Labelled files for classification: CSV, TSV and JSON Lines read alike, labels as integers or
names (numbered in sorted order), and each bad row named by its file and line."""

import csv
import json

import pytest

from lmlab.data.classification import (Example, label_names, read_examples, read_labelled, split_file,
                                       to_examples)
from lmlab.errors import UserError

ROWS = [("a good film", "pos"), ("dull, and long", "neg"), ('the "best" one', "pos"), ("so-so", "meh")]


def write(path, rows, text="text", label="label"):
    """rows as CSV (the csv module writes it), TSV or JSON Lines, by the suffix."""
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps({"id": i, text: t, label: y}) + "\n" for i, (t, y) in enumerate(rows)))
    elif path.suffix == ".csv":
        with open(path, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows([[text, label], *rows])
    else:
        path.write_text(f"{text}\t{label}\n" + "".join(f"{t}\t{y}\n" for t, y in rows))
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl"])
def test_every_format_gives_the_same_rows_and_names_are_numbered_in_sorted_order(suffix, tmp_path):
    rows = read_labelled(write(tmp_path / f"train{suffix}", ROWS))
    assert [(r.text, r.label) for r in rows] == ROWS
    assert label_names(rows) == ["meh", "neg", "pos"]
    assert [e.label for e in to_examples(rows, tmp_path, ["meh", "neg", "pos"])] == [2, 1, 2, 0]
    assert [r.line for r in rows] == ([1, 2, 3, 4] if suffix == ".jsonl" else [2, 3, 4, 5])


def test_other_column_names_integer_labels_and_glue_columns(tmp_path):
    path = write(tmp_path / "d.jsonl", [("fine", 1), ("bad", 0)], text="review", label="stars")
    rows = read_labelled(path, text_column="review", label_column="stars")
    assert label_names(rows) is None  # integers: kept as the class ids
    assert read_examples(path, None, "review", "stars") == [Example("fine", 1), Example("bad", 0)]
    glue = tmp_path / "pairs.tsv"
    glue.write_text("sentence\tsentence2\tlabel\nA man sleeps.\tA person rests.\t1\n")
    assert read_examples(glue, None) == [Example("A man sleeps.", 1, "A person rests.")]


BAD = [  # (file name, content, labels of the run, the message after the path)
    ("d.csv", "text,stars\nok,1\n", None, ":1: no column 'label' (its columns: text, stars); choose one with "
                                          "--set label_column=NAME"),
    ("d.jsonl", '{"text": "ok", "label": "pos"}\n{"text": "ok", "label": null}\n', None,
     ":2: the label is null: give a name or an integer"),
    ("d.jsonl", '{"text": "ok", "label": 1}\n{"label": 0}\n', None, ":2: no field 'text' (the record has: label); "
                                                                     "choose one with --set text_column=NAME"),
    ("d.csv", "text,label\nok,pos\nfine,great\n", ["neg", "pos"],
     ":3: label 'great' is not one of the run's labels (neg, pos)"),
    ("d.tsv", "text\tlabel\nok\t1\nfine\tpos\n", None, ":3: label 'pos' is not an integer, as the run's labels are"),
    ("d.tsv", "text\tlabel\nok\t1\n\tfine\t0\n", None, ":3: 3 fields, but the header has 2 (text, label)"),
]


@pytest.mark.parametrize("name, content, labels, message", BAD)
def test_bad_rows_are_named_by_file_and_line(name, content, labels, message, tmp_path):
    (tmp_path / name).write_text(content)
    with pytest.raises(UserError) as error:
        read_examples(tmp_path / name, labels)
    assert str(error.value) == f"{tmp_path / name}{message}"


def test_one_label_alone_is_refused_and_the_split_files_are_found_in_order(tmp_path):
    with pytest.raises(UserError, match=r"needs two labels or more; the data has only \['pos'\]"):
        label_names(read_labelled(write(tmp_path / "one.csv", [("a", "pos"), ("b", "pos")])))
    with pytest.raises(UserError, match=r"train.tsv not found \(nor train.csv, train.jsonl\)"):
        split_file(tmp_path, "train")
    write(tmp_path / "train.jsonl", ROWS)
    assert split_file(tmp_path, "train") == tmp_path / "train.jsonl"
    write(tmp_path / "train.csv", ROWS)
    assert split_file(tmp_path, "train") == tmp_path / "train.csv"
