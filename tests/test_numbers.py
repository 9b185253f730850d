"""The number grammar: what counts, what never does, and the Vietnamese formats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.normalize import fold
from tasks.numbers import parse_number, read_numbers, spelled_value


def mentions(sentence: str):
    found, refused = read_numbers(sentence, fold(sentence), 0, len(sentence))
    return found, refused


@pytest.mark.parametrize(
    ("sentence", "value", "unit", "denominator", "qualifier"),
    [
        ("Toàn tỉnh đã xây dựng mới 3.340 mô hình.", 3340, "mô hình", None, ""),
        ("Đảng viên nhập ngũ chiếm 1,66%.", 1.66, "%", None, ""),
        ("Đến nay đã có 319/411 xã đạt chuẩn.", 319, "xã", 411, ""),
        ("Huy động hơn 21.000 lượt cán bộ, chiến sĩ.", 21000, "lượt cán bộ", None, "hơn"),
        ("Tổng kinh phí gần 200 triệu đồng.", 200_000_000, "đồng", None, "gần"),
        ("Hỗ trợ 11,4 tỷ đồng cho các hộ.", 11_400_000_000, "đồng", None, ""),
        ("Giao quân đạt 100% chỉ tiêu.", 100, "%", None, "đạt"),
        ("Khen thưởng khoảng 25-30% số xã.", 25, "%", None, "khoảng"),
        ("Khen thưởng 05 tập thể.", 5, "tập thể", None, ""),  # official style keeps a zero
        ("Mở hai lớp học kỳ trong quân đội.", 2, "lớp", None, ""),  # spelled out
        ("Có hai mươi mốt xã tham gia.", 21, "xã", None, ""),
    ],
)
def test_figures_that_count(sentence, value, unit, denominator, qualifier) -> None:
    found, _ = mentions(sentence)
    assert len(found) == 1, found
    m = found[0]
    assert m.value == pytest.approx(value)
    assert m.unit == unit
    assert m.denominator == denominator
    assert m.qualifier == qualifier


def test_two_counts_joined_by_a_slash_are_not_a_fraction() -> None:
    found, _ = mentions("Phát hiện 163 vụ/299 đối tượng vi phạm.")
    assert [(m.value, m.unit, m.denominator) for m in found] == [
        (163, "vụ", None),
        (299, "đối tượng", None),
    ]


def test_a_range_keeps_both_ends() -> None:
    (m,), _ = mentions("Tỷ lệ đạt 25-30% số hộ.")
    assert (m.value, m.value_max, m.unit) == (25, 30, "%")


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Năm 2023, toàn tỉnh hoàn thành nhiệm vụ.", "year"),
        ("Sáng nay 27.11, Ban chỉ đạo tổ chức hội nghị.", "date"),
        ("Chiều 29/12, BCĐ tổ chức hội nghị.", "date"),
        ("Ngày 15/12/2022, hội nghị diễn ra.", "date"),
        ("Tổng kết giai đoạn 2016 - 2020 của tỉnh.", "period"),
        ("Qua 5 năm, hoạt động phối hợp đạt hiệu quả.", "duration"),
        ("Tổng kết 10 năm thực hiện Nghị quyết.", "duration"),
        ("Thực hiện Chỉ thị số 21 của Ban Thường vụ.", "identifier"),
        ("Theo Nghị quyết số 09-NQ/TU của Tỉnh ủy.", "document symbol"),
        ("Triển khai Kế hoạch 123/KH-UBND của tỉnh.", "document symbol"),
        ("Được Quân khu 4 đánh giá cao.", "identifier"),
        ("Cán bộ Sư đoàn 324 tham gia.", "identifier"),
        ("Nghị quyết Trung ương 8 (khóa XI) được quán triệt.", "identifier"),
        ("Liên hệ số 0905123456 để biết thêm.", "phone"),
        ("Gọi đường dây nóng 0236 3822 xx.", "phone"),
    ],
)
def test_numbers_that_are_never_facts(sentence: str, reason: str) -> None:
    found, refused = mentions(sentence)
    assert found == []
    assert any(reason in r.reason for r in refused), refused


def test_vague_amounts_give_no_figure() -> None:
    found, _ = mentions("Huy động hàng chục nghìn ngày công của dân quân.")
    assert found == []


def test_common_words_that_spell_numbers_are_not_counts() -> None:
    found, _ = mentions("Đạt được một số kết quả nổi bật và ba bên cùng thống nhất.")
    assert found == []


@pytest.mark.parametrize(
    ("token", "value"),
    [("3.340", 3340), ("1,66", 1.66), ("21.000", 21000), ("1.234.567,5", 1234567.5), ("7", 7)],
)
def test_parse_number(token: str, value: float) -> None:
    assert parse_number(token) == pytest.approx(value)


def test_parse_number_refuses_other_formats() -> None:
    with pytest.raises(ValueError, match="not a Vietnamese number"):
        parse_number("3,340.5")


@pytest.mark.parametrize(
    ("words", "value"),
    [("ba", 3), ("mười lăm", 15), ("hai mươi mốt", 21), ("mười", 10), ("chín mươi", 90)],
)
def test_spelled_value(words: str, value: int) -> None:
    assert spelled_value(words) == value


@given(st.integers(min_value=0, max_value=10**12))
def test_thousands_format_round_trips(n: int) -> None:
    token = f"{n:,}".replace(",", ".")
    assert parse_number(token) == n


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=99))
def test_decimal_comma_round_trips(whole: int, frac: int) -> None:
    token = f"{whole:,}".replace(",", ".") + f",{frac:02d}"
    assert parse_number(token) == pytest.approx(whole + frac / 100)


@given(st.integers(min_value=1, max_value=99_999), st.sampled_from(["người", "hộ", "mô hình"]))
def test_any_count_before_a_noun_is_read_back(n: int, noun: str) -> None:
    token = f"{n:,}".replace(",", ".")
    if 1900 <= n <= 2099 and "." not in token:
        return  # a bare year-like number is read as a year, by design
    (m,), _ = mentions(f"Toàn tỉnh có {token} {noun} tham gia.")
    assert m.value == n
