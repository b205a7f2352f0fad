"""The lab's frame: settings from preset, --seeds and --set; a run folder of kind `experiment`;
Ctrl-C keeps the finished sub-runs and --resume skips them; mistakes are one line."""

import json
import time
from dataclasses import dataclass

import pytest

from lmlab.cli import main
from lmlab.errors import UserError
from lmlab.experiments import CATALOG, experiment
from lmlab.experiments.arms import TrainingSettings
from lmlab.experiments.lab import Experiment, Lab, Report
from lmlab.experiments.stats import clear_difference, verdict
from lmlab.recipes.experiment import run_experiment
from lmlab.recipes.experiment_options import ExperimentRunOptions
from lmlab.runs import load_run
from lmlab.train import distributed


@dataclass
class ToySettings(TrainingSettings):
    offset: int = 0  # a setting of the toy experiment


INTERRUPT = {"at": None}  # the seed whose part gets a Ctrl-C
NAP = {"seconds": 0.0}  # how long each part sleeps (wall time without CPU time)


def toy_run(lab: Lab, settings: ToySettings) -> Report:
    def compute(seed):
        if seed == INTERRUPT["at"]:
            raise KeyboardInterrupt
        time.sleep(NAP["seconds"])
        return {"value": seed * 10}

    values = [lab.part(f"seed{seed}", lambda folder, seed=seed: compute(seed))["value"] for seed in range(settings.seeds)]
    return Report("count", {"values": values}, [f"the sum is {sum(values)}"])


TOY = Experiment("toy", "what is the sum?", "none", {"tiny": ToySettings(seeds=2), "default": ToySettings(seeds=4)},
                 toy_run, {"tiny": "0 s", "default": "0 s"})


def run_toy(out, **options):
    return run_experiment(TOY, ExperimentRunOptions(name="toy", out=str(out), **options), out,
                          distributed.setup("cpu"))


def test_settings_come_from_the_preset_then_seeds_then_set(tmp_path):
    results = run_toy(tmp_path / "a", preset="tiny", seeds=3, overrides=["steps=7"])
    assert results["settings"]["seeds"] == 3 and results["settings"]["steps"] == 7
    assert results["numbers"]["values"] == [0, 10, 20] and results["answer"] == ["the sum is 30"]
    assert results["seeds"] == [0, 1, 2] and results["versions"]["torch"]
    report = (tmp_path / "a" / "report.md").read_text()
    assert "what is the sum?" in report and "- the sum is 30" in report and "--preset tiny" in report
    assert json.loads((tmp_path / "a" / "config.json").read_text())["kind"] == "experiment"


def test_results_keep_wall_time_and_cpu_time_apart(tmp_path, monkeypatch):
    """On a shared machine the wall time grows with the other jobs; the CPU time of a one-thread run
    does not, and is what a quiet core would take. A part that sleeps shows the two apart."""
    monkeypatch.setitem(NAP, "seconds", 0.2)
    results = run_toy(tmp_path / "a", preset="tiny")
    assert results["seconds"] >= 0.4 and results["cpu_seconds"] < results["seconds"] - 0.3
    assert f"{results['cpu_seconds']:.0f} s of CPU time" in (tmp_path / "a" / "report.md").read_text()


def test_ctrl_c_keeps_finished_parts_and_resume_skips_them(tmp_path, monkeypatch):
    out = tmp_path / "run"
    monkeypatch.setitem(INTERRUPT, "at", 2)
    with pytest.raises(KeyboardInterrupt):
        run_toy(out, overrides=["offset=5"])
    assert sorted(p.name for p in (out / "parts").iterdir()) == ["seed0.json", "seed1.json"]
    assert not (out / "results.json").exists()
    monkeypatch.setitem(INTERRUPT, "at", None)
    with pytest.raises(UserError, match="contradict"):  # the saved settings cannot change on resume
        run_toy(out, resume=True, overrides=["offset=6"])
    results = run_toy(out, resume=True)
    assert results["numbers"]["values"] == [0, 10, 20, 30]
    assert results["sub_runs_computed"] == 2  # seeds 2 and 3; 0 and 1 were read back


def test_a_finished_experiment_is_not_overwritten(tmp_path):
    run_toy(tmp_path / "a", preset="tiny")
    with pytest.raises(UserError, match="already holds a run"):
        run_toy(tmp_path / "a", preset="tiny")


def test_an_experiment_folder_is_refused_by_commands_that_need_a_model(tmp_path):
    run_toy(tmp_path / "a", preset="tiny")
    with pytest.raises(UserError, match="is an experiment run; `lmlab sample` needs a language-model run"):
        load_run(tmp_path / "a", expect="lm", command="lmlab sample")


@pytest.mark.parametrize("argv, message", [
    (["experiment", "run", "nope"], "unknown experiment 'nope'"),
    (["experiment", "run", "all", "--set", "steps=3"], "give its NAME instead of all"),
    (["experiment", "run", "attention-scaling", "--seeds", "0"], "--seeds must be >= 1"),
    (["experiment", "run", "attention-scaling", "--preset", "tiny", "--set", "nope=1"], "unknown key 'nope'"),
])
def test_mistakes_are_one_line(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "x")]) == 2
    error = capsys.readouterr().err
    assert message in error and error.count("\n") == 1


def test_the_list_names_every_experiment_with_its_question_notes_and_run_times(capsys):
    assert main(["experiment", "list", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [row["name"] for row in rows] == list(CATALOG)
    for row in rows:
        assert row["question"].endswith("?") and row["notes"] and set(row["runtime"]) == {"tiny", "default"}
        assert experiment(row["name"]).presets["tiny"].seeds >= 1


def test_no_clear_difference_when_the_seed_spread_covers_the_gap():
    assert not clear_difference([1.0, 1.2, 1.1], [1.15, 1.05, 1.25])
    assert clear_difference([1.0, 1.01, 1.02], [1.5, 1.52, 1.49])
    assert "no clear difference" in verdict("a", [1.0, 1.2, 1.1], "b", [1.15, 1.05, 1.25], "loss")
    assert verdict("a", [1.0, 1.01, 1.02], "b", [1.5, 1.52, 1.49], "loss").startswith("loss: a is lower")
    # one seed each and equal at the shown precision: no arm is named the lower one
    assert verdict("a", [4.5321], "b", [4.5319], "bpc") == "bpc: the same to 3 decimals (a 4.532 vs b 4.532) on one seed, no noise estimate."
    assert verdict("a", [4.5311], "b", [4.5329], "bpc").startswith("bpc: a is lower")
