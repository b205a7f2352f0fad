from dataclasses import dataclass
from typing import Literal, Optional

import pytest

from lmlab.config import apply_overrides, config_from_dict, config_to_dict, preset
from lmlab.errors import UserError


@dataclass
class Model:
    n_layer: int = 2
    dropout: float = 0.0
    bias: bool = True
    attention: Literal["explicit", "sdpa"] = "sdpa"


@dataclass
class Train:
    lr: float = 1e-3
    vocab_size: Optional[int] = None
    dropout: float = 0.5
    limit: int | None = 3


def test_overrides_are_typed():
    model, train = Model(), Train()
    apply_overrides({"model": model, "train": train},
                    ["n_layer=4", "bias=false", "attention=explicit", "lr=3e-4", "vocab_size=none",
                     "model.dropout=0.1", "limit=7"])
    assert (model.n_layer, model.bias, model.attention, model.dropout) == (4, False, "explicit", 0.1)
    assert train.lr == 3e-4 and train.vocab_size is None and train.limit == 7
    apply_overrides({"train": train}, ["limit=none"])
    assert train.limit is None and config_from_dict(Train, {"limit": 5}).limit == 5


@pytest.mark.parametrize("assignment, message", [
    ("n_layers=4", "unknown key 'n_layers'; valid keys: model.n_layer"),
    ("dropout=0.1", "ambiguous"),
    ("n_layer=four", "'four' is not a valid int"),
    ("attention=flash", "not a valid ['explicit', 'sdpa']"),
    ("n_layer", "expects key=value"),
])
def test_bad_overrides_name_the_problem(assignment, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        apply_overrides({"model": Model(), "train": Train()}, [assignment])


def test_dict_round_trip_and_validation():
    assert config_from_dict(Model, config_to_dict(Model(n_layer=3))) == Model(n_layer=3)
    assert config_from_dict(Train, {"lr": 1}).lr == 1.0  # JSON writes 1.0 as 1
    with pytest.raises(UserError, match="unknown Model keys"):
        config_from_dict(Model, {"n_layers": 3})
    with pytest.raises(UserError, match="expected int"):
        config_from_dict(Model, {"n_layer": "3"})


def test_presets_are_copies():
    presets = {"small": Model(n_layer=1)}
    first = preset(presets, "small")
    first.n_layer = 9
    assert preset(presets, "small").n_layer == 1
    with pytest.raises(UserError, match="unknown preset 'big'; choose one of: small"):
        preset(presets, "big")
