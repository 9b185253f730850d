"""Encodings: the quick suspect count and plain-text check agree with their patterns."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.encodings import (
    _SURROGATE,
    _SUSPECT,
    _XML_FORBIDDEN,
    clean_text,
    count_suspects,
    is_plain,
    repair,
)
from tasks.readers import _NOISE

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


# every kind of character the fast paths must tell apart: controls, tab and line ends, odd
# spaces, surrogates, private use, the replacement character, non-characters, Vietnamese
_ODD_TEXT = st.text(
    alphabet=st.sampled_from(
        list("aă ộ\n\t\r\x00\x07\x0b\x0c\x1f\x7f\x85\x9f\xa0\u2028\ufffd\ufffe\uffff")
        + ["\ud800", "\udcff", "\ue000", "\U000f0000", "😀"]
    )
    | st.characters(),
    max_size=40,
)


@given(_ODD_TEXT)
def test_clean_text_gives_what_the_patterns_give(text: str) -> None:
    expected = unicodedata.normalize("NFC", _XML_FORBIDDEN.sub("", _SURROGATE.sub("\ufffd", text)))
    assert clean_text(text) == expected


@given(_ODD_TEXT)
def test_a_plain_text_has_no_noise_but_the_replacement_character(text: str) -> None:
    if is_plain(text):
        assert len(_NOISE.findall(text)) == text.count("\ufffd")
        assert not _XML_FORBIDDEN.search(text) and not _SURROGATE.search(text)
