from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from thzface.config import ConfigError, apply_overrides, dump_yaml, from_dict, save_config, to_dict
from thzface.recipes import config_from_dict, load_config


@dataclass
class Inner:
    a: int = 1  # an int
    b: tuple[int, ...] = (1, 2)  # a tuple


@dataclass
class Outer:
    name: str = "x"  # a string
    rate: float = 0.5  # a float
    flag: bool = False  # a bool
    inner: Inner = field(default_factory=Inner)  # a section


def test_round_trip_and_types():
    o = from_dict(Outer, {"name": "y", "rate": 1, "inner": {"a": "3", "b": [4, 5]}})
    assert o == Outer("y", 1.0, False, Inner(3, (4, 5)))
    assert from_dict(Outer, to_dict(o)) == o


def test_unknown_key_is_rejected_with_path():
    with pytest.raises(ConfigError, match=r"cfg\.inner: unknown key\(s\) \['c'\]"):
        from_dict(Outer, {"inner": {"c": 1}}, "cfg")


def test_wrong_type_message():
    with pytest.raises(ConfigError, match=r"cfg\.inner\.a: expected an integer, got 'x'"):
        from_dict(Outer, {"inner": {"a": "x"}}, "cfg")
    with pytest.raises(ConfigError, match=r"cfg\.flag: expected true/false"):
        from_dict(Outer, {"flag": "maybe"}, "cfg")


def test_dotted_overrides():
    d = apply_overrides({"inner": {"a": 1}}, ["inner.a=7", "rate=0.25", "name=abc"])
    assert from_dict(Outer, d) == Outer("abc", 0.25, False, Inner(7, (1, 2)))
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides({}, ["novalue"])


def test_every_shipped_config_loads_and_round_trips(repo, tmp_path):
    paths = sorted((repo / "configs").glob("*.yaml"))
    assert paths, "no configs shipped"
    for p in paths:
        cfg = load_config(p)
        assert p.stem.startswith(cfg.recipe + "-"), f"{p.name}: recipe {cfg.recipe} does not match the file name"
        save_config(cfg, tmp_path / "c.yaml")
        again = load_config(tmp_path / "c.yaml")
        assert dump_yaml(again) == dump_yaml(cfg)


def test_config_unknown_recipe_and_model_key(repo):
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        config_from_dict({"recipe": "nope"})
    with pytest.raises(ConfigError, match=r"config\.model: unknown key\(s\) \['bogus'\]"):
        config_from_dict({"recipe": "mtl", "model": {"bogus": 1}})
    with pytest.raises(ConfigError, match=r"train\.lr: expected a number"):
        load_config(repo / "configs" / "mtl-tiny.yaml", ["train.lr=fast"])


@pytest.mark.parametrize("name", ["mtl", "distill", "inpaint", "twin", "unmask3d"])
def test_dataclass_defaults_are_the_default_preset(name):
    from thzface.engine.train import config_diff
    from thzface.recipes import RECIPES

    assert config_diff(to_dict(RECIPES[name].model.default_config()), to_dict(load_config(f"{name}-default"))) == []


def test_presets_ship_as_package_data_and_load_by_name(tmp_path):
    from thzface.recipes import find_config, preset_names

    names = preset_names()
    recipes, sizes = ("mtl", "distill", "inpaint", "twin", "unmask3d"), ("tiny", "default", "paper")
    assert {f"{r}-{s}" for r in recipes for s in sizes} <= set(names)
    assert find_config("mtl-tiny").parent.name == "configs" and "thzface" in find_config("mtl-tiny").parts
    assert load_config("mtl-tiny").preset == "tiny"
    with pytest.raises(ConfigError, match="no such config file or preset; presets: distill-default"):
        load_config("mtl-huge")
    (tmp_path / "c.yaml").write_text("recipe: twin\n")
    assert load_config(tmp_path / "c.yaml").recipe == "twin"  # a path still works
