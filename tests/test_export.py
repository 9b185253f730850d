"""Workbooks for analysts: the streaming writer read back by openpyxl."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from tasks.export import _ILLEGAL, _SPACES, Sheet, _legal_utf8, stream_xlsx


def _sheets() -> list[Sheet]:
    rows = [
        [1, 2.5, "x & <y>"],  # markup characters escaped, not broken
        [None, "", " lead\x01ing "],  # empty cells; a control character XML forbids is dropped
        [True, float("nan"), "Đắk Lắk"],  # a bool as 1; NaN left empty
    ]
    return [Sheet("a/b:c", ["h1", "h2", "h3"], rows), Sheet("a/b:c", ["only"], [])]


def test_stream_xlsx_reads_back_with_numbers_names_and_panes() -> None:
    wb = load_workbook(io.BytesIO(stream_xlsx(_sheets())))
    assert wb.sheetnames == ["a-b-c", "a-b-c (2)"]  # Excel's rules for names: valid, unique
    ws = wb["a-b-c"]
    assert list(ws.iter_rows(values_only=True)) == [
        ("h1", "h2", "h3"),
        (1, 2.5, "x & <y>"),
        (None, None, " leading "),
        (1, None, "Đắk Lắk"),
    ]
    assert ws["B2"].number_format == "#,##0.##" and ws.freeze_panes == "A2"
    assert ws["A1"].font.b and not ws["A2"].font.b
    assert list(wb["a-b-c (2)"].iter_rows(values_only=True)) == [("only",)]


def test_stream_xlsx_gives_the_same_bytes_for_the_same_rows() -> None:
    assert stream_xlsx(_sheets()) == stream_xlsx(_sheets())


def test_spaces_are_every_character_python_calls_space() -> None:
    # the writer keeps a leading or trailing space with xml:space="preserve"; its set must
    # hold every such character ("\u3000", the ideographic space, is the last)
    assert {c for c in map(chr, range(0x110000)) if c.isspace()} == _SPACES


@pytest.mark.parametrize(
    "text",
    [
        "plain Đắk Lắk",
        "bell\x07 and\x00 nul",  # control characters XML forbids: dropped
        "tab\t line\n return\r kept",  # the three XML allows
        "non-character \ufffe\uffff dropped",  # the rare path through the regex
    ],
)
def test_legal_utf8_equals_the_regex(text: str) -> None:
    assert _legal_utf8(text) == _ILLEGAL.sub("", text).encode("utf-8")
