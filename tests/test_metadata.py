"""Document metadata: year, period, date, chair and province, with unknown kept unknown."""

from __future__ import annotations

import pytest

from tasks.metadata import read_meta
from tasks.normalize import normalize_doc
from tasks.records import SourceDoc


def meta(text: str, **manifest: str):
    doc = SourceDoc("d", "d.txt", text, meta=tuple(sorted(manifest.items())))
    return read_meta(normalize_doc(doc))


def test_year_reviewed_beats_the_plan_year() -> None:
    m = meta("Năm 2023, toàn tỉnh đạt kết quả tốt. Năm 2024, phấn đấu hoàn thành 100% chỉ tiêu.")
    assert (m.year, m.plan_year) == (2023, 2024)


def test_a_multi_year_review_is_a_period() -> None:
    m = meta(
        "Hội nghị tổng kết công tác phối hợp giai đoạn 2016 - 2020. Giai đoạn 2021 - 2025 "
        "tiếp tục phối hợp."
    )
    assert (m.period_start, m.period_end, m.year) == (2016, 2020, 2020)


def test_no_year_stays_unknown() -> None:
    assert meta("Hội nghị diễn ra trang trọng, các đại biểu thảo luận sôi nổi.").year is None


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Chiều 29/12, BCĐ tổ chức hội nghị tổng kết năm 2017.", "2017-12-29"),
        ("Ngày 15/12/2022, Bộ CHQS tỉnh tổ chức hội nghị.", "2022-12-15"),
        ("Sáng 10/1, Bộ CHQS tỉnh tổ chức hội nghị tổng kết công tác năm 2022.", "2023-01-10"),
        ("Sáng 10/6, Bộ CHQS tỉnh tổ chức hội nghị.", ""),  # no year to infer from: unknown
    ],
)
def test_conference_date(text: str, iso: str) -> None:
    assert meta(text).conference_date == iso


@pytest.mark.parametrize(
    ("text", "chairs"),
    [
        ("Chủ tịch UBND tỉnh Nguyễn Thanh Ngọc chủ trì hội nghị.", ("Nguyễn Thanh Ngọc",)),
        (
            "Các đồng chí Nguyễn Nam Đình - Phó Chủ tịch HĐND tỉnh; Lê Hồng Vinh - Phó Chủ tịch "
            "UBND tỉnh đồng chủ trì hội nghị.",
            ("Nguyễn Nam Đình", "Lê Hồng Vinh"),
        ),
        (
            "Hội nghị diễn ra dưới sự chủ trì của đồng chí Trần Văn Hùng, Bí thư Tỉnh ủy.",
            ("Trần Văn Hùng",),
        ),
        ("Phó Bí thư Thường trực Tỉnh ủy Lê Văn Dũng đến dự.", ()),  # attending is not chairing
        ("Kết luận hội nghị, đồng chí Hồ Văn Niên nhấn mạnh nhiệm vụ.", ("Hồ Văn Niên",)),
        ("Chủ tịch UBND tỉnh Hà Tĩnh Võ Trọng Hải chủ trì hội nghị.", ("Võ Trọng Hải",)),
    ],
)
def test_chairs(text: str, chairs: tuple[str, ...]) -> None:
    assert meta(text).chairs == chairs


@pytest.mark.parametrize(
    ("text", "manifest", "province"),
    [
        ("Bộ CHQS tỉnh Nghệ An tổ chức hội nghị. Tỉnh Nghệ An đạt 100% chỉ tiêu.", {}, "Nghệ An"),
        ("(QNO) - Sáng nay 27.11, Ban chỉ đạo tổ chức hội nghị.", {}, "Quảng Nam"),
        ("Tham dự có đại diện Quân khu 4. Toàn tỉnh đạt 100% chỉ tiêu.", {}, ""),
        ("Đối ngoại với 3 tỉnh biên giới Campuchia và nước bạn Lào.", {}, ""),
        ("Giữ vững biên giới hòa bình, hữu nghị.", {}, ""),  # "hòa bình" is peace
        ("Đồng chí Nguyễn Thái Bình phát biểu ý kiến về nhiệm vụ năm tới.", {}, ""),
        ("Hội nghị tổng kết công tác quốc phòng.", {"province": "Thanh Hoá"}, "Thanh Hóa"),
        ("UBND tỉnh Thanh Hóa và tỉnh Nghệ An ký kết phối hợp.", {}, ""),  # two: unknown
    ],
)
def test_province(text: str, manifest: dict[str, str], province: str) -> None:
    m = meta(text, **manifest)
    assert m.province == province
    assert m.province_reason


def test_quan_khu_narrows_but_a_province_outside_it_is_dropped() -> None:
    m = meta("Đại diện Quân khu 4 dự. Đoàn công tác tỉnh Quảng Nam sang thăm, trao đổi.")
    assert m.province == ""
    assert m.military_region == "4"
