"""The data files: the indicator catalog, the provinces and the grammar lists are sound."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tasks.catalog import DATA_DIR, indicators, load_yaml, parse_indicators, provinces
from tasks.normalize import fold


def test_indicator_keys_are_unique_and_labelled_in_both_languages() -> None:
    catalog = indicators()
    keys = [i.key for i in catalog]
    assert len(keys) == len(set(keys)) >= 15
    for ind in catalog:
        assert ind.label_vi and ind.label_en and ind.unit
        assert ind.agg in {"sum", "mean", "max", "latest"}
        assert ind.patterns


def test_a_bad_catalog_is_refused_with_its_key() -> None:
    bad = {
        "indicators": [
            {
                "key": "a",
                "label_vi": "A",
                "label_en": "A",
                "unit": "x",
                "agg": "median",
                "patterns": [{"noun": "x"}],
            }
        ]
    }
    with pytest.raises(ValueError, match="indicator a: agg"):
        parse_indicators(bad)
    twice = {
        "indicators": [
            {
                "key": "a",
                "label_vi": "A",
                "label_en": "A",
                "unit": "x",
                "agg": "sum",
                "patterns": [{"noun": "x"}],
            }
        ]
        * 2
    }
    with pytest.raises(ValueError, match="repeated"):
        parse_indicators(twice)


def test_provinces_before_and_after_the_2025_merger() -> None:
    ps = provinces()
    assert len(ps) == 63
    assert len({p.merged_into for p in ps}) == 34
    assert {p.region for p in ps} == {0, 1, 2, 3, 4, 5, 7, 9}
    assert {p.name for p in ps if p.region == 4} == {
        "Thanh Hóa",
        "Nghệ An",
        "Hà Tĩnh",
        "Quảng Bình",
        "Quảng Trị",
        "Thừa Thiên Huế",
    }


def test_grammar_lists_are_folded_and_non_empty() -> None:
    grammar = load_yaml("grammar.yaml")
    for key, value in grammar.items():
        assert value, key
        words = value if isinstance(value, list) else list(value)
        for word in words:
            assert fold(word) == word, (key, word)


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_data_files_load_as_plain_safe_yaml_reads_them(path: Path) -> None:
    # load_yaml may use libyaml's parser: it must give exactly what the pure-Python one gives
    assert load_yaml(path.name) == yaml.safe_load(path.read_text(encoding="utf-8"))
