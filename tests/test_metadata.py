"""Document metadata: year, period, date, chair and province, with unknown kept unknown."""

from __future__ import annotations

import threading

import pytest

from tasks.metadata import doc_memo, plan_flags, read_meta, sentences_text
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


@pytest.mark.parametrize(
    ("text", "province"),
    [
        # a list of provinces names where the work was done, not where the report is from
        ("Xây nhà tại các tỉnh An Giang, Kiên Giang, Cà Mau, Sóc Trăng cho hộ nghèo.", ""),
        # places inside a province: "xã Hòa Bình", "huyện Văn Yên", "đường Trần Phú"
        ("Hội nghị tại xã Hòa Bình, huyện Tân Phú. Xã Hòa Bình đạt chuẩn nông thôn mới.", ""),
        # "Hồ Chí Minh" alone is the president, not the city
        (
            "Học tập và làm theo tư tưởng, đạo đức, phong cách Hồ Chí Minh. Đoàn TNCS Hồ Chí Minh.",
            "",
        ),
        ("Ban Dân vận Thành ủy TP.HCM tổ chức hội nghị tổng kết năm 2021.", "TP. Hồ Chí Minh"),
        ("UBND huyện Ninh Cư (Kiên Giang) tổ chức hội nghị sơ kết.", "Kiên Giang"),
        ("Chiến thắng Điện Biên Phủ được nhắc lại tại hội nghị.", ""),
        # foreign provinces are never provinces of Vietnam
        ("Phối hợp với tỉnh Savannakhet (Lào) và Kampong Cham (Campuchia) quy tập hài cốt.", ""),
        # after the 2025 merger a report names the old provinces its new unit absorbed
        (
            "UBND tỉnh Tuyên Quang tổ chức hội nghị tổng kết năm 2025. Tỉnh Tuyên Quang mới "
            "hợp nhất từ tỉnh Tuyên Quang và tỉnh Hà Giang.",
            "Tuyên Quang",
        ),
        ("(Baothanhhoa.vn) - Chiều 26/12, Ban CHQS huyện Như Xuân tổ chức hội nghị.", "Thanh Hóa"),
        ("BPO - Sáng 30-12, Đảng ủy Quân sự tỉnh tổ chức hội nghị tổng kết.", "Bình Phước"),
        ("(TTXVN) - Sáng 18/12, Bộ CHQS tổ chức hội nghị tổng kết.", ""),  # national outlet
    ],
)
def test_province_is_named_or_stays_unknown(text: str, province: str) -> None:
    m = meta(text)
    assert m.province == province, m.province_reason
    assert m.province_reason


def test_hue_is_its_own_unit_after_the_merger_only() -> None:
    before = meta("Sáng 20/12, UBND tỉnh Thừa Thiên Huế tổ chức hội nghị tổng kết năm 2023.")
    after = meta("Sáng 20/12, UBND thành phố Huế tổ chức hội nghị tổng kết năm 2025.")
    assert (before.province, after.province) == ("Thừa Thiên Huế", "Huế")


@pytest.mark.parametrize(
    ("text", "attendees"),
    [
        (
            "Phó Bí thư Thường trực Tỉnh ủy Lê Văn Dũng đến dự.",
            ("Lê Văn Dũng - Phó Bí thư Thường trực Tỉnh ủy",),
        ),
        (
            "Dự hội nghị có Thiếu tướng Nguyễn Hồng Thái, Phó Tư lệnh Quân khu 1.",
            ("Thiếu tướng Nguyễn Hồng Thái - Phó Tư lệnh Quân khu 1",),
        ),
        (
            "Tham dự có Đại tá Phạm Phú Ý - Phó Tham mưu trưởng Quân khu 7; đồng chí Nguyễn Đài "
            "Thy - Phó Chủ tịch HĐND tỉnh cùng lãnh đạo các sở, ngành.",
            (
                "Đại tá Phạm Phú Ý - Phó Tham mưu trưởng Quân khu 7",
                "Nguyễn Đài Thy - Phó Chủ tịch HĐND tỉnh",
            ),
        ),
    ],
)
def test_attendees_carry_their_titles(text: str, attendees: tuple[str, ...]) -> None:
    assert meta(text).attendees == attendees


@pytest.mark.parametrize(
    ("text", "chairs"),
    [
        ("Đồng chí Y Giang Niê, Chủ tịch UBND huyện chủ trì hội nghị.", ("Y Giang Niê",)),
        ("Đại tá Ksor Bơ, Phó Chính ủy Bộ CHQS tỉnh chủ trì hội nghị.", ("Ksor Bơ",)),
        ("Hội nghị do đồng chí Lê Văn Ngọc, Bí thư Huyện ủy chủ trì.", ("Lê Văn Ngọc",)),
    ],
)
def test_chairs_with_names_of_every_people(text: str, chairs: tuple[str, ...]) -> None:
    assert meta(text).chairs == chairs


@pytest.mark.parametrize(
    ("text", "organiser"),
    [
        ("Ngày 15/12/2022, Bộ CHQS tỉnh tổ chức hội nghị tổng kết.", "Bộ CHQS tỉnh"),
        (
            "Chiều 28/11, tại Hội trường Bộ CHQS tỉnh, Ban Dân vận Tỉnh ủy tổ chức hội nghị.",
            "Ban Dân vận Tỉnh ủy",
        ),
        ("Hội nghị diễn ra trong không khí phấn khởi.", ""),
    ],
)
def test_organiser(text: str, organiser: str) -> None:
    assert meta(text).organiser == organiser


@pytest.mark.parametrize(
    ("text", "year", "plan_year"),
    [
        # the year after the review word is reviewed, the one after a plan word is planned
        ("Hội nghị tổng kết công tác năm 2013 và triển khai nhiệm vụ năm 2014.", 2013, 2014),
        # a law's year names the law
        ("Tổng kết năm 2023. Thực hiện tốt Luật Nghĩa vụ quân sự năm 2015.", 2023, None),
        # "Năm 2016, huyện tiếp tục ..." plans, after a 2015 exercise
        (
            "Huyện diễn tập khu vực phòng thủ năm 2015 đạt loại giỏi. Năm 2016, huyện tiếp tục "
            "chỉ đạo 3 xã diễn tập.",
            2015,
            2016,
        ),
        ("Sơ kết 6 tháng đầu năm 2024, triển khai nhiệm vụ 6 tháng cuối năm.", 2024, None),
        # no year but the full conference date: the year it reviews
        (
            "Sáng 14-11-2022, Công an tỉnh tổ chức hội nghị sơ kết 3 năm thực hiện Nghị định.",
            2022,
            None,
        ),
    ],
)
def test_year_reviewed(text: str, year: int, plan_year: int | None) -> None:
    m = meta(text)
    assert (m.year, m.plan_year) == (year, plan_year)


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("Chiều 12/7, Ban CHQS huyện tổ chức hội nghị sơ kết 6 tháng đầu năm 2024.", "2024-07-12"),
        ("Chiều 14/1/2010, Tỉnh ủy tổ chức hội nghị tổng kết năm 2009.", "2010-01-14"),
        (
            "Sáng 5-10, hai bên sơ kết 5 năm thực hiện chương trình giai đoạn 2019 - 2024.",
            "2024-10-05",
        ),
        ("Sáng 21/6, Tỉnh ủy tổng kết 10 năm thực hiện Nghị quyết, giai đoạn 2008 - 2018.", ""),
    ],
)
def test_conference_date_year_is_inferred_safely(text: str, iso: str) -> None:
    assert meta(text).conference_date == iso


def test_a_visiting_or_neighbouring_province_does_not_outweigh_the_host() -> None:
    m = meta(
        "Bộ CHQS tỉnh Bình Phước tổ chức hội nghị tổng kết. Đoàn công tác tỉnh Bình Dương "
        "đến dự. Phối hợp với tỉnh Tây Ninh tuần tra biên giới."
    )
    assert m.province in {"Bình Phước", ""}


def test_a_conference_above_the_provinces_has_no_province() -> None:
    m = meta(
        "QĐND Online - Ngày 10-1-2019, Bộ Tư lệnh Quân khu 2 tổ chức hội nghị tổng kết năm 2018. "
        "Các tỉnh Hà Giang, Lào Cai tổ chức tốt diễn tập. Tỉnh Sơn La được tặng cờ thi đua."
    )
    assert m.province == ""
    assert "above the provinces" in m.province_reason


def test_a_recruitment_review_in_march_is_of_the_same_year() -> None:
    m = meta(
        "Sáng 26/3, Hội đồng NVQS tỉnh tổ chức hội nghị tổng kết công tác tuyển chọn và gọi "
        "công dân nhập ngũ năm 2021."
    )
    assert (m.year, m.conference_date) == (2021, "2021-03-26")


# --- per-document memo -----------------------------------------------------------------------


def _doc(text: str):
    return normalize_doc(SourceDoc("d", "d.txt", text))


def test_memo_is_per_document_and_per_thread() -> None:
    a = _doc("Năm 2023, tỉnh giao 500 công dân nhập ngũ. Năm 2024 phấn đấu giao quân đạt 100%.")
    b = _doc("Hội nghị tổng kết năm 2022.")
    doc_memo(a)["x"] = 1
    assert doc_memo(a) == {"x": 1}
    assert doc_memo(b) == {}  # another document: a fresh memo
    assert doc_memo(a) == {}  # and the first one's was dropped
    seen = []
    doc_memo(a)["x"] = 2
    worker = threading.Thread(target=lambda: seen.append(dict(doc_memo(a))))
    worker.start()
    worker.join()
    assert seen == [{}]  # a thread never reads another thread's memo
    assert doc_memo(a) == {"x": 2}


def test_memoised_finders_answer_for_the_document_asked() -> None:
    a = _doc("Năm 2023, tỉnh giao 500 công dân nhập ngũ. Năm 2024 phấn đấu giao quân đạt 100%.")
    b = _doc("Phương hướng năm tới: giữ vững an ninh. Năm 2023 giao 300 công dân.")
    assert plan_flags(a, 2024) == [False, True]
    assert plan_flags(a, None) == [False, True]  # "phấn đấu" marks a plan by itself
    assert plan_flags(b, None) == [True, False]
    flags = plan_flags(a, 2024)
    flags[0] = True  # the caller's copy: the memo keeps its own
    assert plan_flags(a, 2024) == [False, True]
    assert [text for _, text, _ in sentences_text(a)][0].startswith("Năm 2023")
    assert [text for _, text, _ in sentences_text(b)][0].startswith("Phương hướng")


# --- the kept answers are the answers ----------------------------------------------------------


@pytest.mark.parametrize(
    "run",
    ["hội nghị", "bà rịa - vũng tàu", "tp.hcm", "thừa thiên-huế", "nguyễn thái bình", "các", "x"],
)
def test_run_words_kept_per_run_are_the_words_of_the_run(run: str) -> None:
    # None exactly when no word of the run can open a province's name
    from tasks.metadata import _RUN_SEPARATORS, _WORD_IN_RUN, _province_index, run_words

    words = tuple((m.start(), m.group()) for m in _WORD_IN_RUN.finditer(run))
    firsts = _province_index()["by_first"].keys()
    disjoint = firsts.isdisjoint(run.translate(_RUN_SEPARATORS).split())
    assert run_words(run) == (None if disjoint else words)
    assert run_words(run) == run_words(run)  # the second answer is the kept one


@pytest.mark.parametrize(
    ("run", "hits"),
    [
        ("hà nội", ((0, "hà nội"),)),
        ("ubnd tỉnh thanh hóa", ((10, "thanh hóa"),)),  # a body's run: the name inside it
        ("bà rịa - vũng tàu", ((0, "bà rịa - vũng tàu"),)),
        ("hà tĩnh võ trọng hải", ((0, "hà tĩnh"),)),  # a province, then a person's name
        ("nguyễn thái bình", ()),  # inside a person's name
        ("điện biên phủ", ()),  # inside a longer name
        ("đồng", ()),  # "Đồng chí": opens "Đồng Nai", names no province
        ("hội nghị", ()),
    ],
)
def test_run_hits_are_the_province_names_of_a_run(
    run: str, hits: tuple[tuple[int, str], ...]
) -> None:
    from tasks.metadata import run_hits

    assert run_hits(run) == hits
    assert run_hits(run) is run_hits(run)  # kept per run
