"""Normalisation keeps offsets, folds for matching, and keeps boilerplate out of the analysis."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.normalize import (
    find_boilerplate,
    fold,
    fold_text,
    is_letter,
    normalize_doc,
    normalize_text,
    split_sentences,
)
from tasks.records import SourceDoc


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Thanh Hoá", "Thanh Hóa"),
        ("thuỷ lợi", "thủy lợi"),
        ("Khánh Hoà", "KHÁNH HÒA"),
        ("“Dân vận khéo”", '"dân vận khéo"'),
        ("2016 – 2020", "2016 - 2020"),
        ("qúy", "quý"),
    ],
)
def test_fold_makes_spellings_equal(a: str, b: str) -> None:
    assert fold(a) == fold(b)


def test_fold_leaves_closed_syllables_alone() -> None:
    # "hoàn" has one spelling in both styles; only open syllables ("hoà") move their mark
    assert fold("hoàn thành hoạt động") == "hoàn thành hoạt động"


@given(st.text(max_size=200))
def test_fold_keeps_the_length(text: str) -> None:
    assert len(fold(text)) == len(text)


@given(st.text(max_size=300))
def test_normalize_text_is_idempotent(text: str) -> None:
    once = normalize_text(text)
    assert normalize_text(once) == once


def test_normalize_text_composes_and_tidies() -> None:
    decomposed = "Ho\u0300a\u00a0\u00a0Bi\u0300nh\r\n\r\n\u200bxa\u0303"
    assert normalize_text(decomposed) == "Hòa Bình\nxã"


@pytest.mark.parametrize(
    "text",
    [
        "Sáng nay 27.11, Ban chỉ đạo tổ chức hội nghị tại TP.HCM và T.Ư với 3.340 mô hình.",
        "Đoàn công tác của Q.4 đã đến thăm.",
    ],
)
def test_sentences_survive_dots_inside_tokens(text: str) -> None:
    assert len(split_sentences(text, [])) == 1


def test_sentences_split_on_a_full_stop_before_a_capital() -> None:
    text = "Năm 2023 đạt kết quả tốt. Hội nghị xác định nhiệm vụ năm 2024. TP. Hồ Chí Minh dự."
    parts = [text[s.start : s.end] for s in split_sentences(text, [])]
    assert parts == [
        "Năm 2023 đạt kết quả tốt.",
        "Hội nghị xác định nhiệm vụ năm 2024.",
        "TP. Hồ Chí Minh dự.",
    ]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("Quang cảnh hội nghị. Ảnh: Trọng Kiên", "caption"),
        ("Đồng chí Lê Hùng Sơn, Bí thư Tỉnh đoàn phát biểu tại hội nghị.", "caption"),
        ("Cập nhật:", "updated"),
    ],
)
def test_boilerplate_lines(line: str, kind: str) -> None:
    text = f"Năm 2023, toàn tỉnh đạt 100% chỉ tiêu giao quân.\n{line}\nHội nghị kết thúc."
    kinds = {k for _, _, k in find_boilerplate(text)}
    assert kind in kinds


def test_boilerplate_stays_in_the_text_but_not_in_the_sentences() -> None:
    raw = " date 2020-11 (QNO) - Sáng nay 27.11, hội nghị khen thưởng 5 tập thể.\nTrúc Linh"
    doc = normalize_doc(SourceDoc("x", "x.txt", raw))
    assert "(QNO)" in doc.text and "Trúc Linh" in doc.text
    sentences = [doc.text[s.start : s.end] for s in doc.sentences]
    assert sentences == ["Sáng nay 27.11, hội nghị khen thưởng 5 tập thể."]
    assert {k for _, _, k in doc.boilerplate} >= {"stamp", "dateline", "byline"}


@given(st.text(max_size=200))
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_sentences_and_boilerplate_stay_inside_the_text(raw: str) -> None:
    doc = normalize_doc(SourceDoc("x", "x.txt", raw))
    assert len(doc.folded) == len(doc.text)
    previous_end = 0
    for s in doc.sentences:
        assert previous_end <= s.start < s.end <= len(doc.text)
        previous_end = s.end
        for a, b, _ in doc.boilerplate:
            assert s.end <= a or s.start >= b  # no sentence overlaps boilerplate


@given(
    st.lists(
        st.sampled_from(
            [
                "Năm 2023 đạt 100% chỉ tiêu.",
                "TP.HCM có 3.340 mô hình.",
                "Sáng nay 27.11, hội nghị diễn ra!",
                "T.Ư chỉ đạo.",
            ]
        ),
        min_size=1,
        max_size=6,
    )
)
def test_joined_sentences_split_back(parts: list[str]) -> None:
    text = " ".join(parts)
    found = [text[s.start : s.end] for s in split_sentences(text, [])]
    assert found == parts


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        # a headline with figures repeats the body: left out, even with a number
        (
            "Cần Thơ: Hoàn thành 100% chỉ tiêu giao quân năm 2019\nNăm 2019, thành phố giao quân.",
            {"title"},
        ),
        # a short subheading with a figure in the middle of the report
        (
            "Năm 2023, tỉnh đạt kết quả tốt.\nGiao quân đạt 100% chỉ tiêu\nHội nghị kết thúc.",
            {"heading"},
        ),
        ("(BGĐT) - Ngày 15/12/2022, Bộ CHQS tỉnh tổ chức hội nghị.", {"dateline"}),
        ("BPO - Sáng 30-12, Đảng ủy Quân sự tỉnh tổ chức hội nghị.", {"dateline"}),
        ("(Baothanhhoa.vn) - Chiều 26/12, Ban CHQS huyện tổ chức hội nghị.", {"dateline"}),
        ("Năm 2023, tỉnh đạt kết quả tốt.\nTin, ảnh: Hoàng Anh", {"byline"}),
        ("Năm 2023, tỉnh đạt kết quả tốt.\nXem thêm: các tin khác", {"updated"}),
    ],
)
def test_more_boilerplate(text: str, kinds: set[str]) -> None:
    assert kinds <= {k for _, _, k in find_boilerplate(text)}


def test_bullet_lines_are_prose() -> None:
    text = (
        "Năm 2020, LLVT tỉnh hoàn thành các chỉ tiêu:\n- Giao quân đạt 100% chỉ tiêu (816 công dân)"
    )
    assert find_boilerplate(text) == []


def test_a_line_starting_with_an_abbreviation_is_no_dateline() -> None:
    text = "QP-QS địa phương được giữ vững, đạt 100% chỉ tiêu."
    assert find_boilerplate(text) == []


@pytest.mark.parametrize(
    ("char", "letter"),
    [("a", True), ("Đ", True), ("ữ", True), ("ꞌ", True), ("1", False), ("/", False), (" ", False)],
)
def test_is_letter_is_the_regex_letter_class(char: str, letter: bool) -> None:
    # "ꞌ" (U+A78C) is a letter to the regex module's newer Unicode, not to Python 3.11's
    assert is_letter(char) is letter


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("Đến TP. Hồ Chí Minh dự họp. Hội nghị kết thúc.", 2),  # "TP." is not an end
        ("Gặp đ/c. Nguyễn Văn A. Ông nói.", 2),  # "đ/c." does not end one; "A." does
        ("Năm nay tăng. Năm tới giảm.", 2),
    ],
)
def test_abbreviations_before_a_dot_do_not_split(text: str, n: int) -> None:
    assert len(split_sentences(text, [])) == n


def test_normalize_text_memo_never_answers_for_another_text() -> None:
    a = "Hội  nghị\r\n\r\ntổng kết"
    assert normalize_text(a) == "Hội nghị\ntổng kết"
    assert normalize_text(a) == "Hội nghị\ntổng kết"  # the same object: the kept answer
    b = "".join(["Hội  nghị\r\n", "\r\nsơ kết"])  # another object, another text
    assert normalize_text(b) == "Hội nghị\nsơ kết"
    c = "".join(["Hội  nghị\r\n", "\r\ntổng kết"])  # equal to a, not the same object
    assert normalize_text(c) == normalize_text(a)


@pytest.mark.parametrize("raw", ["\x85", "Hội nghị.\n\u2029\nKết thúc.", "a\n\x1c"])
def test_a_line_of_unusual_white_space_is_no_error(raw: str) -> None:
    # normalize_text strips only " " from lines; str.rstrip() strips these too
    doc = normalize_doc(SourceDoc("x", "x.txt", raw))
    assert all(0 <= s.start < s.end <= len(doc.text) for s in doc.sentences)


# --- the fast paths give what the plain definitions give ----------------------------------

# (with a letter that is not ASCII, "đ", and a non-letter that is a word character, "²", after
# a pair: the pre-check of the pairs lets both through to the exact search)
_FOLD_ALPHABET = "oOuUqQàáảãạèéẻẽẹỳýỷỹỵÀÁÝúùủũụyhnđ2² .,-–“”İ"


def _fold_by_pairs(text: str) -> str:
    """The tone folding as first written: one substitution per pair, in the table's order."""
    import regex

    from tasks.normalize import _CHAR_MAP, _QU_PAIRS, _TONE_PAIRS

    low = text.lower()
    if len(low) != len(text):
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    for ch, plain in _CHAR_MAP:
        low = low.replace(ch, plain)
    for pair, old_style in _TONE_PAIRS.items():
        low = regex.sub(f"{pair}(?![\\p{{L}}])", old_style, low)
    for wrong, right in _QU_PAIRS.items():
        low = low.replace(wrong, right)
    return low


@given(st.text(alphabet=_FOLD_ALPHABET, max_size=40))
def test_fold_with_one_scan_equals_one_substitution_per_pair(text: str) -> None:
    # "hoà." "thuỷ," "qúy" "hoàn" (not at a word's end) "oỳ" (no pair): same as pair by pair
    assert fold_text(text) == _fold_by_pairs(text)


@given(st.text(alphabet="abcTPQđ/ .!?\n", max_size=30), st.integers(0, 30), st.integers(0, 30))
def test_abbreviation_fast_path_equals_the_walk(text: str, dot: int, floor: int) -> None:
    from tasks.normalize import _ABBREV, _ABBREV_LONGEST, _is_abbreviation

    dot, floor = min(dot, len(text)), min(floor, dot, len(text))
    lo = max(floor, dot - 8, dot - _ABBREV_LONGEST - 1)
    start = dot
    while start > lo and (text[start - 1] == "/" or is_letter(text[start - 1])):
        start -= 1
    walked = start < dot and text[start:dot].lower() in _ABBREV
    assert _is_abbreviation(text, dot, floor) == walked


@pytest.mark.parametrize(
    ("text", "skip"),
    [
        ("Tiêu đề bài\nNăm 2023, tỉnh đạt 5 xã. Hội nghị bế mạc.", [(0, 11, "title")]),
        ("Dòng một. Dòng hai.\nẢnh: Lê A\nDòng ba.", [(20, 30, "caption")]),
        ("(QNO) - Sáng 5/12, hội nghị.", [(0, 8, "dateline")]),  # a span inside a line
        ("a. B.\nc. D.", [(0, 11, "title"), (3, 5, "x")]),  # nested spans
        ("Câu một. Câu hai.", [(4, 12, "x"), (6, 14, "y")]),  # overlapping spans in a line
    ],
)
def test_split_sentences_looks_only_at_the_spans_of_each_line(
    text: str, skip: list[tuple[int, int, str]]
) -> None:
    # the spans that reach into a line cut it as all the spans do
    got = [(s.start, s.end, s.paragraph) for s in split_sentences(text, skip)]
    assert got == _split_with_every_span(text, skip)


@given(
    st.text(alphabet="ab. C\n", max_size=40),
    st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), max_size=4),
)
def test_split_sentences_equals_cutting_by_every_span(
    text: str, spans: list[tuple[int, int]]
) -> None:
    skip = [(a, b, "x") for a, b in spans]
    got = [(s.start, s.end, s.paragraph) for s in split_sentences(text, skip)]
    assert got == _split_with_every_span(text, skip)


@given(
    st.lists(
        st.sampled_from([*'aTpqĐ/ .!?…"”’)“‘(\n1', "tp", "ths", "đ/c", "./.", ". "]),
        max_size=20,
    ).map("".join)
)
def test_sentence_ends_of_the_whole_text_are_those_of_its_lines(text: str) -> None:
    # split_sentences looks for the ends in the whole text at once: a line end is no mark, no
    # quote and no letter, so the search and the abbreviation walk stop there as at a line's end
    from tasks.normalize import _sentence_ends

    by_line: list[int] = []
    start = 0
    while start <= len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        by_line += _sentence_ends(text, start, end)
        start = end + 1
    assert _sentence_ends(text, 0, len(text)) == by_line


@given(
    st.lists(
        st.sampled_from([*'aTpqĐ/ ."”’)“‘(\n1', "tp", "ths", "đ/c", ". ", '." ', "... "]),
        max_size=20,
    ).map("".join),
    st.integers(0, 40),
)
def test_dot_ends_equal_the_search_of_every_mark(text: str, floor: int) -> None:
    # a text whose only end mark is the dot: one scan for runs of dots before a space gives
    # the cuts that the search for each end mark in turn gives
    from tasks.normalize import _dot_ends, _mark_ends

    floor = min(floor, len(text))
    assert _dot_ends(text, floor, len(text)) == _mark_ends(text, floor, len(text))


def _split_with_every_span(
    text: str, skip: list[tuple[int, int, str]]
) -> list[tuple[int, int, int]]:
    """split_sentences as first written: every piece cut by every skipped span."""
    from tasks.normalize import _sentence_ends, _trim, _unskipped

    skips = sorted((a, b) for a, b, _ in skip if b > a)
    expected = []
    start, paragraph = 0, 0
    while start <= len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        cuts = [start, *_sentence_ends(text, start, end), end]
        for a, b in zip(cuts, cuts[1:], strict=False):
            for run_start, run_end in _unskipped(skips, a, b):
                s, e = _trim(text, run_start, run_end)
                if e - s >= 2:
                    expected.append((s, e, paragraph))
        start, paragraph = end + 1, paragraph + 1
    return expected
