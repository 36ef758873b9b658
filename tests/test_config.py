"""``Config``: the run parameters tasks read (dagprofiler's dynamic configuration container)."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Mapping

import pytest

from dagforge import Config, ConfigError


@pytest.fixture
def cfg() -> Config:
    return Config(N_UE=10000, N_CELL=7, N_SLICE=5)


def test_attribute_and_item_access(cfg):
    assert cfg.N_UE == 10000
    assert cfg["N_CELL"] == 7
    assert cfg.N_SLICE == cfg["N_SLICE"] == 5


def test_positional_mapping_and_keywords_merge_keywords_winning():
    c = Config({"a": 1, "b": 2}, b=3, c=4)
    assert c.to_dict() == {"a": 1, "b": 3, "c": 4}
    assert Config().to_dict() == {} and len(Config()) == 0


def test_get_with_and_without_default(cfg):
    assert cfg.get("N_SLICE", 99) == 5  # set: the default is ignored
    assert cfg.get("N_BEAM", 4) == 4
    assert cfg.get("N_BEAM") is None


def test_to_dict_is_an_independent_plain_dict(cfg):
    d = cfg.to_dict()
    assert type(d) is dict and d == {"N_UE": 10000, "N_CELL": 7, "N_SLICE": 5}
    d["N_UE"] = 1
    assert cfg.N_UE == 10000


def test_copy_applies_changes_and_leaves_the_original(cfg):
    bigger = cfg.copy(N_UE=20000, extra="x")
    assert isinstance(bigger, Config)
    assert bigger.N_UE == 20000 and bigger.extra == "x" and bigger.N_CELL == 7
    assert cfg.N_UE == 10000 and "extra" not in cfg
    same = cfg.copy()
    assert same == cfg and same is not cfg


def test_in_len_iteration_keep_insertion_order(cfg):
    assert "N_CELL" in cfg and "N_BEAM" not in cfg and 7 not in cfg
    assert len(cfg) == 3
    assert list(cfg) == ["N_UE", "N_CELL", "N_SLICE"]
    assert list(cfg.keys()) == ["N_UE", "N_CELL", "N_SLICE"]
    assert list(cfg.values()) == [10000, 7, 5]
    assert dict(cfg.items()) == cfg.to_dict()
    assert isinstance(cfg, Mapping)
    assert {**cfg} == cfg.to_dict()  # unpacks like a mapping


def test_equality(cfg):
    assert cfg == Config(N_UE=10000, N_CELL=7, N_SLICE=5)
    assert cfg == Config(N_SLICE=5, N_CELL=7, N_UE=10000)  # order does not matter
    assert cfg != cfg.copy(N_UE=1)
    assert cfg != Config(N_UE=10000, N_CELL=7)
    assert cfg == {"N_UE": 10000, "N_CELL": 7, "N_SLICE": 5}  # a plain mapping compares too
    assert cfg != 42 and cfg != "Config"


def test_repr_is_readable_and_in_order(cfg):
    assert repr(cfg) == "Config(N_UE=10000, N_CELL=7, N_SLICE=5)"
    assert repr(Config(name="x", ratio=0.5)) == "Config(name='x', ratio=0.5)"
    assert repr(Config()) == "Config()"


def test_read_only(cfg):
    with pytest.raises(AttributeError, match=r"read-only.*copy"):
        cfg.N_UE = 1
    with pytest.raises(AttributeError):
        cfg.new_param = 1
    with pytest.raises(TypeError):
        cfg["N_UE"] = 1  # type: ignore[index]
    with pytest.raises(TypeError):
        hash(cfg)
    assert cfg.N_UE == 10000 and "new_param" not in cfg


def test_missing_names_the_key_and_lists_the_known_ones(cfg):
    with pytest.raises(ConfigError) as err:
        cfg["N_BEAM"]
    assert "'N_BEAM'" in str(err.value) and "N_CELL" in str(err.value)
    assert isinstance(err.value, KeyError)  # a mapping's missing key is still a KeyError
    with pytest.raises(AttributeError) as attr_err:
        _ = cfg.N_BEAM
    assert "'N_BEAM'" in str(attr_err.value) and "N_UE" in str(attr_err.value)
    assert not hasattr(cfg, "N_BEAM")


def test_pickle_and_copy_round_trip(cfg):
    for clone in (pickle.loads(pickle.dumps(cfg)), copy.copy(cfg), copy.deepcopy(cfg)):
        assert isinstance(clone, Config) and clone == cfg
        assert clone.N_UE == 10000


def test_values_are_not_copied(cfg):
    table = [1, 2]
    c = Config(table=table)
    assert c.table is table and c["table"] is table
