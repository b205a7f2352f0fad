"""`--data` in every format people have: each gives the documents the .txt files give, and a
problem is named by file and line."""

import csv
import gzip
import json

import pytest

from lmlab.cli import main
from lmlab.data.corpora import load_corpus, split_corpus
from lmlab.errors import UserError

DOCUMENTS = ["The first text, with a comma.", 'The second, "quoted" one.', "Third: plain.", "Fourth and last."]


def write(path, documents, column="text", extra=None):
    """`documents` as a file of the format its suffix names (extra: one more field per record)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = {column: None, **({extra: None} if extra else {})}
    rows = [{column: text, **({extra: i} if extra else {})} for i, text in enumerate(documents)]
    if ".jsonl" in path.name:
        content = "".join(json.dumps(row) + "\n" for row in rows)
    elif ".csv" in path.name:  # the csv module as the reference writer: quotes where RFC 4180 needs them
        with open(path.with_suffix(".ref"), "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, list(fields))
            writer.writeheader()
            writer.writerows(rows)
        content = path.with_suffix(".ref").read_text(encoding="utf-8")
        path.with_suffix(".ref").unlink()
    else:  # TSV: no quoting at all
        content = "\t".join(fields) + "\n" + "".join("\t".join(str(v) for v in row.values()) + "\n" for row in rows)
    data = content.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


@pytest.fixture
def txt_folder(tmp_path):
    for i, text in enumerate(DOCUMENTS):
        (tmp_path / "txt" / f"{i}.txt").parent.mkdir(exist_ok=True)
        (tmp_path / "txt" / f"{i}.txt").write_text(text + "\n")
    return tmp_path / "txt"


def texts(spec, **fields):
    return [document.text for document in load_corpus(str(spec), **fields).documents]


@pytest.mark.parametrize("name", ["d.jsonl", "d.csv", "d.tsv", "d.jsonl.gz", "d.csv.gz", "d.tsv.gz"])
def test_every_format_gives_the_documents_of_the_txt_files(name, txt_folder, tmp_path):
    assert texts(txt_folder) == DOCUMENTS
    path = write(tmp_path / name, DOCUMENTS, extra="id")
    assert texts(path) == DOCUMENTS
    corpus = load_corpus(str(path))
    assert corpus.records and corpus.documents[1].name == f"{name}:{2 if 'jsonl' in name else 3}"


def test_a_gzipped_text_file_is_one_document(tmp_path):
    (tmp_path / "a.txt.gz").write_bytes(gzip.compress("line one\r\nline two\n\n".encode()))
    corpus = load_corpus(str(tmp_path / "a.txt.gz"))
    assert [d.text for d in corpus.documents] == ["line one\nline two"] and not corpus.records


def test_other_names_for_the_text_and_multi_line_records(tmp_path):
    multi = ["a text\nover two lines", "one, with \"quotes\"\nand a comma"]
    assert texts(write(tmp_path / "d.jsonl", multi, column="body"), text_field="body") == multi
    assert texts(write(tmp_path / "d.csv", multi, column="body"), text_column="body") == multi
    blank = write(tmp_path / "blank.jsonl", ["kept", "  ", "also kept"])
    assert texts(blank) == ["kept", "also kept"]  # blank records are left out


def test_records_are_held_out_whole_and_evenly_spaced(tmp_path):
    documents = [f"record {i}" for i in range(25)]
    split = split_corpus(load_corpus(str(write(tmp_path / "r.jsonl", documents))), 0.1)
    assert split.val == ["record 9", "record 19"]  # floor(25 * 0.1) = 2: the 10th and the 20th
    assert split.train == [d for d in documents if d not in split.val]
    assert split.record["rule"] == "10% of the records, evenly spaced, held out whole"
    with pytest.raises(UserError, match="3 records, and 10% of them is less than one; give at least 10 records"):
        split_corpus(load_corpus(str(write(tmp_path / "few.jsonl", documents[:3]))), 0.1)


BAD_FILES = [  # (file name, content, the message's start after the path, its end)
    ("d.jsonl", '{"text": "a"}\n\n{"text": "b"}\n{"text": "c"}\n{"text": "d"}\n\n{"text": "e",}\n',
     ":7: not valid JSON", "at column 14)"),
    ("d.jsonl", '{"text": "a"}\n["a", "list"]\n', ":2: expected a JSON object per line, got list", ""),
    ("d.jsonl", '{"text": "a"}\n{"body": "b", "id": 2}\n', ":2: no field 'text' (the record has: body, id)",
     "choose one with --set text_field=NAME"),
    ("d.jsonl", '{"text": "a"}\n{"text": 12}\n', ":2: 'text' is 12, not a string of text", ""),
    ("d.csv", "body,id\nhello,1\n", ":1: no column 'text' (its columns: body, id)",
     "choose one with --set text_column=NAME"),
    ("d.csv", "text,id\nhello,1\nhello, world,2\n", ":3: 3 fields, but the header has 2 (text, id)",
     "quote fields that hold commas"),
    ("d.tsv", "text\tid\nhello\t1\n\nno tab here\n", ":4: 1 fields, but the header has 2 (text, id)", ""),
    ("d.csv", "text,id\nfine,1\n\"never closed,1\nmore,2\n", ":3: not valid CSV", "(unexpected end of data)"),
    ("d.jsonl", "", " is empty", ""),
    ("d.csv", "\n \n", " is empty", ""),
    ("d.jsonl", '{"text": ""}\n', ": no record has text in field 'text'", ""),
]


@pytest.mark.parametrize("name, content, start, end", BAD_FILES)
def test_bad_records_are_named_by_file_and_line(name, content, start, end, tmp_path):
    (tmp_path / name).write_text(content, encoding="utf-8")
    (tmp_path / f"{name}.gz").write_bytes(gzip.compress(content.encode()))
    for spec in (tmp_path / name, tmp_path / f"{name}.gz"):
        with pytest.raises(UserError) as error:
            load_corpus(str(spec))
        message = str(error.value)
        assert message.startswith(f"{spec}{start}") and message.endswith(end) and "\n" not in message, message


def test_a_file_that_is_not_gzip_or_not_utf8_is_named(tmp_path):
    (tmp_path / "d.jsonl.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match=r"d.jsonl.gz: not a valid gzip file"):
        load_corpus(str(tmp_path / "d.jsonl.gz"))
    (tmp_path / "d.csv").write_bytes("text\nok\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match=r"d.csv is not valid UTF-8 text \(bad byte at offset 11\) on line 3"):
        load_corpus(str(tmp_path / "d.csv"))


def test_a_datasets_folder_gives_its_train_split(txt_folder, tmp_path):
    datasets = pytest.importorskip("datasets", reason="--data for a datasets folder needs the datasets package")
    single = tmp_path / "single"
    datasets.Dataset.from_dict({"text": DOCUMENTS, "id": list(range(4))}).save_to_disk(str(single))
    assert texts(single) == texts(txt_folder) and load_corpus(str(single)).records
    splits = tmp_path / "splits"
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"body": DOCUMENTS}),
                          "test": datasets.Dataset.from_dict({"body": ["not this"]})}).save_to_disk(str(splits))
    assert texts(splits, text_column="body") == DOCUMENTS
    with pytest.raises(UserError, match=r"no column 'text' \(its columns: body\); choose one with --set text_column"):
        load_corpus(str(splits))


def test_a_datasets_folder_without_the_package_names_the_extra(tmp_path, monkeypatch):
    import builtins

    (tmp_path / "dataset_info.json").write_text("{}")
    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(UserError, match=r"saved by the `datasets` library.*pip install lmlab\[datasets\]"):
        load_corpus(str(tmp_path))


def test_lmlab_train_reads_a_csv_with_another_column_and_eval_reads_it_again(tmp_path, capsys):
    rows = [f"Row {i}: the quick brown fox jumps over the lazy dog." for i in range(40)]
    data = write(tmp_path / "posts.csv.gz", rows, column="body", extra="id")
    out = tmp_path / "run"
    assert main(["train", "--data", str(data), "--preset", "tiny", "--max-steps", "2", "--out", str(out),
                 "--set", "text_column=body"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["data"]["text_column"] == "body"
    assert config["data_split"]["documents"] == 40 and "records" in config["data_split"]["rule"]
    capsys.readouterr()
    assert main(["eval", str(out), "--data", str(data), "--json"]) == 0  # the run's column, read again
    assert json.loads(capsys.readouterr().out)["tokens"] > 0
    assert main(["train", "--data", str(data), "--preset", "tiny", "--out", str(tmp_path / "r2")]) == 2
    assert "no column 'text' (its columns: body, id); choose one with --set text_column=NAME" in capsys.readouterr().err


def test_the_other_commands_take_the_text_keys(tmp_path, capsys):
    rows = [f"Row {i}: the quick brown fox jumps over the lazy dog." for i in range(40)]
    data = write(tmp_path / "posts.jsonl", rows, column="body")
    assert main(["tokenizer", "train", "--data", str(data), "--algo", "char", "--out", str(tmp_path / "t.json"),
                 "--set", "text_field=body"]) == 0
    assert main(["word2vec", "train", "--data", str(data), "--preset", "tiny", "--out", str(tmp_path / "w2v"),
                 "--set", "text_field=body"]) == 0
    assert json.loads((tmp_path / "w2v" / "config.json").read_text())["data"]["text_field"] == "body"
    assert main(["compare", "--preset", "tiny", "--data", str(data), "--models", "ngram", "--out",
                 str(tmp_path / "cmp"), "--set", "text_field=body"]) == 0
    assert json.loads((tmp_path / "cmp" / "ngram" / "config.json").read_text())["data"]["text_field"] == "body"
    capsys.readouterr()
    assert main(["tokenizer", "train", "--data", str(data), "--algo", "char", "--out", str(tmp_path / "t2.json")]) == 2
    assert f"{data}:1: no field 'text' (the record has: body)" in capsys.readouterr().err
