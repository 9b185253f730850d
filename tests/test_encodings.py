"""Encodings: the quick suspect count agrees with the pattern it stands for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.encodings import _SUSPECT, count_suspects, repair

# clean Vietnamese, the curly marks Windows-1252 shares with it, and mojibake letters
_ALPHABET = "aăâêôơưđĂÂĐ áàảãạ “”‘’…–—€ºÃÄÞøö¸\u0080\u0099\u00a0\u00bf\u00c2\u00c3\u00ef"


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("Hội nghị tổng kết “Dân vận khéo” – năm 2023…", 0),  # clean, with curly marks
        ("ngâ”", 1),  # "â" then a curly quote: the one pair clean text can hold
        ("Ä‘á»“ng", 2),  # UTF-8 read as Windows-1252: "Ä‘" and "á»"
        ("Héi nghÞ", 1),  # TCVN3 read as Windows-1252: "Þ" never occurs in Vietnamese
    ],
)
def test_count_suspects(text: str, n: int) -> None:
    assert count_suspects(text) == n == len(_SUSPECT.findall(text))


@given(st.text(alphabet=_ALPHABET, max_size=40))
def test_count_suspects_is_the_patterns_count(text: str) -> None:
    assert count_suspects(text) == len(_SUSPECT.findall(text))


def test_repair_still_mends_mojibake() -> None:
    fixed, how = repair("Há»™i nghá»‹ tá»•ng káº¿t cÃ´ng tÃ¡c quÃ¢n sá»±")
    assert fixed == "Hội nghị tổng kết công tác quân sự"
    assert "mojibake" in how
