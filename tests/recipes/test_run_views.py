"""`lmlab plot`: the PNG is a real image, and the numbers it drew (curves.json) are the runs' own
metrics.jsonl values, smoothed by a trailing moving average checked against hand values."""

import json

import numpy as np
import pytest

from lmlab.cli import main
from lmlab.run_summary import moving_average


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Two tiny GPTs on one text: 20 steps and 10 steps (another seed)."""
    root = tmp_path_factory.mktemp("plot")
    text = root / "text.txt"
    text.write_text("".join(f"Line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(150)))
    for name, steps, seed in (("long", "20", "1"), ("short", "10", "2")):
        assert main(["train", "--data", text, "--preset", "tiny", "--max-steps", steps, "--seed", seed,
                     "--set", "eval_every=5", "--out", root / name, "--device", "cpu"]) == 0
    return root / "long", root / "short"


def logged(run, metric):
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in lines if metric in r], [r[metric] for r in lines if metric in r]


def test_moving_average_by_hand():
    assert moving_average([1.0, 2.0, 3.0, 4.0, 10.0], 3) == [1.0, 1.5, 2.0, 3.0, 17 / 3]
    assert moving_average([5.0, 1.0], 1) == [5.0, 1.0]
    assert moving_average([2.0, 4.0], 10) == [2.0, 3.0]  # a window longer than the curve: the running mean


def test_the_plot_is_a_png_of_the_runs_validation_losses(two_runs, tmp_path):
    import matplotlib.image

    out = tmp_path / "curves.png"
    assert main(["plot", *two_runs, "--metric", "val_loss", "--out", out]) == 0
    image = matplotlib.image.imread(out)
    assert image.shape[:2] == (400, 700) and image.std() > 0.01  # 7 x 4 inches at 100 dpi, not blank
    data = json.loads((tmp_path / "curves.json").read_text())
    assert (data["metric"], data["smooth"]) == ("val_loss", 1)
    assert [curve["label"] for curve in data["runs"]] == ["long", "short"]
    for curve, run in zip(data["runs"], two_runs):
        steps, values = logged(run, "val_loss")
        assert curve["steps"] == steps and curve["values"] == curve["raw"] == values
    assert data["runs"][0]["steps"] == [5, 10, 15, 20] and data["runs"][1]["steps"] == [5, 10]


def test_smoothing_and_a_log_axis(two_runs, tmp_path):
    out = tmp_path / "train.png"
    assert main(["plot", *two_runs, "--metric", "train_loss", "--smooth", "3", "--log-y", "--out", out]) == 0
    data = json.loads(out.with_suffix(".json").read_text())
    assert data["log_y"] is True
    for curve, run in zip(data["runs"], two_runs):
        steps, values = logged(run, "train_loss")
        cumulative = np.cumsum([0.0, *values])
        expected = [(cumulative[i + 1] - cumulative[max(0, i - 2)]) / min(i + 1, 3) for i in range(len(values))]
        assert curve["steps"] == steps and curve["raw"] == values
        assert curve["values"] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("argv, message", [
    (["--metric", "bleu"], "--metric bleu: "),
    (["--out", "curves.pdf"], "give a .png file name"),
    (["--metric", "lr", "--log-y", "--smooth", "0"], "--smooth"),
])
def test_mistakes_are_one_line(two_runs, tmp_path, argv, message, capsys):
    assert main(["plot", *two_runs, *[str(tmp_path / a) if a.endswith(".pdf") else a for a in argv]]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1, err
    if "bleu" in argv:
        assert "train_loss, val_loss, val_perplexity" in err  # what the runs do have
    assert not list(tmp_path.iterdir())


def test_an_existing_plot_is_kept_unless_forced(two_runs, tmp_path, capsys):
    out = tmp_path / "curves.png"
    out.write_bytes(b"mine")
    assert main(["plot", two_runs[0], "--out", out]) == 2
    assert out.read_bytes() == b"mine" and "--force" in capsys.readouterr().err
    assert main(["plot", two_runs[0], "--out", out, "--force"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
