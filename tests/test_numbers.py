"""The number grammar: what counts, what never does, and the Vietnamese formats."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasks.normalize import fold, normalize_doc
from tasks.numbers import (
    _PUNCT_STOP_CHARS,
    _TOKEN,
    _digit_word_positions,
    _is_identifier,
    _may_end_in_phrase,
    _may_open,
    _noun_phrase,
    _patterns,
    _qualifier,
    _tail_words,
    _walk_noun,
    letters_before,
    opens_clause,
    parse_number,
    phrase_at_end,
    read_numbers,
    read_sentences,
    spelled_matches,
    spelled_value,
    tail_phrase,
)
from tasks.records import Sentence, SourceDoc

FIXTURES = Path(__file__).parent / "fixtures" / "extraction" / "texts"
SEEDS = Path(__file__).parent.parent / "seeds"


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


@pytest.mark.parametrize(
    ("sentence", "values"),
    [
        # "a/b" joins two counts when a noun sits between them
        ("Tổ chức 181.180 lượt tổ/405.194 lượt cán bộ tuần tra.", [181180, 405194]),
        # scale words multiply; "ngàn" is "nghìn"
        ("Huấn luyện cho hơn 25 ngàn dân quân tự vệ.", [25000]),
        ("Hỗ trợ khoảng 1,5 triệu lượt người.", [1_500_000]),
        ("Trao 50 suất quà, mỗi suất trị giá 500 nghìn đồng.", [50, 500_000]),
        # a range with "đến"
        ("Tỷ lệ khá, giỏi từ 25 đến 30% ở từng đơn vị.", [25]),
        # a decimal below one is no phone number
        ("Đảng viên nhập ngũ chiếm 0,52% tổng số.", [0.52]),
        # a noun in quotes is the counted noun
        ('Các đơn vị duy trì 12 "mô hình dân vận khéo".', [12]),
        # "Quân đội 150 công dân": the army's share of recruits counts
        ("Trong đó Quân đội 1.350 công dân, Công an 150 công dân.", [1350, 150]),
        # "Lào 1,2 tỷ đồng": money after a capitalised word is still money
        ("Tỉnh đã chi hơn 4,6 tỷ đồng, trong đó hỗ trợ phía Lào 1,2 tỷ đồng.", [4.6e9, 1.2e9]),
    ],
)
def test_figures_in_context(sentence: str, values: list[float]) -> None:
    found, _ = mentions(sentence)
    assert [m.value for m in found] == pytest.approx(values)


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("Ban Chỉ đạo 515 tỉnh tổ chức hội nghị.", "identifier"),
        ("Khắc phục hậu quả bão số 3 trên địa bàn.", "identifier"),
        ("Đoàn 379 tham gia diễn tập.", "identifier"),
        ("Thực hiện Quy chế phối hợp số 09/QC-BĐBP-CHQS năm 2023.", "document symbol"),
        ("Phối hợp với Sư đoàn 330 đứng chân trên địa bàn.", "identifier"),
        ("Mọi thông tin liên hệ số điện thoại 0271.3879.123.", "phone"),
        ("Khai mạc lúc 8h30 tại hội trường.", "code or time"),
        ("Sau khi Quốc lộ 1A được mở rộng.", "code or time"),
        ("Cán bộ đối tượng 1, 2, 3 đi bồi dưỡng.", "no counted noun"),
        ("Diễn tập từ ngày 26 đến 27-11-2015.", "identifier"),  # "ngày 26 ..." names a day
        ("Sơ kết 6 tháng đầu năm 2024.", "duration"),
    ],
)
def test_more_numbers_that_are_never_facts(sentence: str, reason: str) -> None:
    found, refused = mentions(sentence)
    assert found == [], found
    assert any(reason in r.reason for r in refused), refused


def test_a_spelled_number_opening_a_clause_points_back() -> None:
    found, _ = mentions("Hai đơn vị duy trì tốt mô hình; hai bên tổ chức ba đợt tuyên truyền.")
    assert [(m.value, m.unit) for m in found] == [(3, "đợt")]


def test_one_as_an_article_is_not_a_count() -> None:
    found, _ = mentions("Tỉnh là một đơn vị tiêu biểu, có một huyện diễn tập.")
    assert [(m.value, m.unit) for m in found] == [(1, "huyện")]


_QUALIFIERS = ["", "hơn", "gần", "khoảng", "trên", "gần như", "xấp xỉ", "ít nhất"]


@given(
    st.integers(min_value=1, max_value=9_999_999),
    st.sampled_from(_QUALIFIERS),
    st.sampled_from(["", "nghìn", "triệu", "tỷ"]),
)
def test_money_with_qualifier_and_scale_is_read_back(n: int, qualifier: str, scale: str) -> None:
    token = f"{n:,}".replace(",", ".")
    factor = {"": 1, "nghìn": 10**3, "triệu": 10**6, "tỷ": 10**9}[scale]
    sentence = f"Tổng kinh phí {qualifier} {token} {scale} đồng cho các hộ.".replace("  ", " ")
    if is_year_like(token):
        return
    (m,), _ = mentions(sentence)
    assert (m.value, m.unit, m.qualifier) == (n * factor, "đồng", qualifier)


@given(
    st.integers(min_value=1900, max_value=2099),
    st.integers(min_value=1, max_value=28),
    st.integers(min_value=1, max_value=12),
)
def test_years_and_dates_are_never_facts(year: int, day: int, month: int) -> None:
    for sentence in (
        f"Năm {year}, toàn tỉnh đạt kết quả tốt.",
        f"Ngày {day}/{month}/{year}, hội nghị diễn ra.",
        f"Chiều {day}/{month}, Bộ CHQS tổ chức hội nghị.",
        f"Sáng {day}-{month}, hội nghị diễn ra.",
        f"Giai đoạn {year} - {year + 1} của tỉnh.",
        f"Theo Kế hoạch {day}/KH-UBND của tỉnh.",
    ):
        found, _ = mentions(sentence)
        assert found == [], sentence


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=5000))
def test_a_fraction_keeps_its_denominator(a: int, b: int) -> None:
    ta, tb = f"{a:,}".replace(",", "."), f"{b:,}".replace(",", ".")
    if is_year_like(ta) or is_year_like(tb) or (a <= 31 and b <= 12):
        return  # "a/b" that could be a date, or year-like parts, are refused by design
    (m,), _ = mentions(f"Đến nay đã có {ta}/{tb} xã đạt chuẩn.")
    assert (m.value, m.denominator, m.unit) == (a, b, "xã")


@given(st.text(alphabet="0123456789.,/- %abcđ", max_size=40))
def test_the_grammar_never_crashes_and_mentions_stay_in_bounds(text: str) -> None:
    found, refused = mentions(text)
    for m in [*found, *refused]:
        assert 0 <= m.start < m.end <= len(text)


def is_year_like(token: str) -> bool:
    return token.isdigit() and 1900 <= int(token) <= 2099


def test_billions_without_a_currency_are_money_where_money_is_named() -> None:
    found, _ = mentions("Xây dựng 5 nhà với tổng kinh phí hơn 1,2 tỷ, bàn giao trong năm.")
    assert [(m.value, m.unit, m.qualifier) for m in found] == [
        (5, "nhà", ""),
        (1.2e9, "đồng", "hơn"),
    ]


def test_dong_chi_are_comrades_not_money() -> None:
    found, _ = mentions(
        "Dân quân cơ động 156 đồng chí, kết nạp 15 đồng chí vào Đảng, chi 20 triệu đồng."
    )
    assert [(m.value, m.unit) for m in found] == [
        (156, "đồng chí"),
        (15, "đồng chí"),
        (20e6, "đồng"),
    ]


@pytest.mark.parametrize(
    "sentence",
    [
        "Bệnh viện Quân y 175 khám cho người dân.",
        "Tàu 936 tuần tra trên vùng biển.",
        "Nhà máy 22 sản xuất theo kế hoạch.",
        "Học sinh khối 12 học giáo dục quốc phòng.",
        "Thực hiện Công điện 01 của Thủ tướng Chính phủ.",
    ],
)
def test_names_of_places_and_units_with_numbers(sentence: str) -> None:
    found, _ = mentions(sentence)
    assert found == [], found


# --- cheap character tests -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "end", "floor", "word"),
    [
        ("Sư đoàn 324", 7, 0, "đoàn"),
        ("Sư đoàn 324", 7, 5, "àn"),  # never before the floor
        ("số 5", 0, 0, ""),  # nothing before
        ("tàu QN-90", 6, 0, "QN"),  # "-" is not a letter
        ("Ꞌꞌ 3", 2, 0, "Ꞌꞌ"),  # letters of a newer Unicode than str.isalpha knows (U+A78B/C)
    ],
)
def test_letters_before_walks_back_over_one_word(
    text: str, end: int, floor: int, word: str
) -> None:
    assert text[letters_before(text, end, floor) : end] == word


@pytest.mark.parametrize(
    ("prefix", "opens"),
    [
        ("Kết quả, ", True),
        ("(", True),
        ("Ông nói: “ ", True),
        ("Toàn tỉnh có ", False),
        ("", False),
        ("a,\x1c", False),  # \x1c is white space to Python, not to the regex module's \s
    ],
)
def test_opens_clause(prefix: str, opens: bool) -> None:
    assert opens_clause(prefix + "Hơn", 0, len(prefix)) is opens


@pytest.mark.parametrize(
    ("before", "found"),
    [
        ("hoàn thành hơn ", "hơn"),
        ("chỉ thị số ", "chỉ thị số"),
        ("(số ", "số"),  # an opening bracket is not part of the phrase
        ("tổng số ", "số"),  # (_is_identifier tells "tổng số" apart)
        ("số lượng ", ""),
        ("   ", ""),
    ],
)
def test_tail_phrase_finds_the_longest_phrase_at_the_end(before: str, found: str) -> None:
    phrases = frozenset({"hơn", "số", "chỉ thị số", "thị"})
    assert tail_phrase(before, phrases, 3) == found


_WORDS = [
    "hai",
    "ba",
    "mười",
    "mươi",
    "một",
    "lăm",
    "khai",
    "lớp",
    "xã",
    "huyện",
    "người",
    "và",
    ",",
]


@given(st.lists(st.sampled_from(_WORDS), max_size=12))
def test_spelled_matches_are_the_patterns_finditer(words: list[str]) -> None:
    # digit words inside other words ("khai"), runs of digit words, numbers before nouns
    folded = " ".join(words)
    pattern = _patterns()["spelled"]
    heads = _digit_word_positions(folded, 0, len(folded))
    found = [m.span() for m in spelled_matches(pattern, folded, 0, len(folded), heads)]
    assert found == [m.span() for m in pattern.finditer(folded, 0, len(folded))]


def test_spelled_matches_stay_inside_the_bounds() -> None:
    folded = "mở hai lớp. tổ chức ba lớp"
    pattern = _patterns()["spelled"]
    heads = _digit_word_positions(folded, 0, len(folded))
    assert [m.group("num") for m in spelled_matches(pattern, folded, 0, 11, heads)] == ["hai"]
    assert [m.group("num") for m in spelled_matches(pattern, folded, 12, len(folded), heads)] == [
        "ba"
    ]


# --- the fast paths give what the plain definitions give ----------------------------------


@given(st.text(alphabet="ab đ-(/ Ꞌ3", max_size=20), st.integers(0, 20), st.integers(0, 20))
def test_letters_before_equals_a_walk_back(text: str, end: int, floor: int) -> None:
    # a word of plain letters is found with rfind + isalpha; anything else ("-", "/", "Ꞌ")
    # walks back character by character: both give the walk's answer
    from tasks.normalize import is_letter

    end = min(end, len(text))
    floor = min(floor, end)
    start = end
    while start > floor and is_letter(text[start - 1]):
        start -= 1
    assert letters_before(text, end, floor) == start


@given(
    st.lists(st.sampled_from(["hơn", "số", "chỉ", "thị", "(số", "tổng", "gần", "x"]), max_size=6),
    st.integers(3, 6),
)
def test_phrase_at_end_of_a_longer_split_equals_tail_phrase(words: list[str], k: int) -> None:
    # one split (for the longest phrase set) serves the shorter ones
    before = " ".join(words) + " "
    phrases = frozenset({"hơn", "số", "chỉ thị số", "thị", "gần"})
    split = before.rstrip().rsplit(None, k)
    assert phrase_at_end(split, phrases, 3) == tail_phrase(before, phrases, 3)


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("*.txt")) + sorted(SEEDS.glob("*.txt")))
def test_spelled_numbers_of_a_document_are_those_of_its_sentences(path: Path) -> None:
    # read_sentences tries a digit word only where a spelled number can go on ("hai xã", not
    # "năm 2023"); read_numbers tries every digit word of the sentence: same spelled figures
    doc = normalize_doc(SourceDoc(doc_id="d", source=path.name, text=path.read_text()))
    for sentence, found in zip(
        doc.sentences, read_sentences(doc.text, doc.folded, doc.sentences), strict=True
    ):
        alone, _ = read_numbers(doc.text, doc.folded, sentence.start, sentence.end)
        spelled = [m for m in alone if not doc.text[m.start].isdigit()]
        assert [m for m in found if not doc.text[m.start].isdigit()] == spelled


@given(
    st.sampled_from(["", "năm ", "Chỉ thị số ", "đạt ", "(", "0258 ", "tổng số "]),
    st.sampled_from(["2023", "1999", "2016 - 2020", "2021-2025", "2016 đến 2020"]),
    st.sampled_from(["", " người", "%", " tỷ đồng", ".", "/12", "-NQ/TU", " xã"]),
)
def test_a_year_or_period_is_never_a_mention(before: str, year: str, after: str) -> None:
    # read_sentences skips them without reading the context: whatever surrounds them, the
    # grammar refuses a bare year or a period of two years
    sentence = f"{before}{year}{after}"
    found, _ = mentions(sentence)
    assert all(m.start != len(before) for m in found)


# words around a number: plain, stop words (single, multi-word, a verb that is a noun, a
# compound), capitals, single letters, punctuation glued or alone, quotes, digits, hyphens
_NOUN_TEXT = (
    "xã đạt chuẩn mới, tổ chức cơ sở dự bị trị giá so với DO dầu do y tế ; . “Dân vận "
    "khéo” CO2 ( 5 - --x Đoàn cán bộ, … quân nhân ở Ở người. hộ/"
)
_NOUN_WORDS = ["", *_NOUN_TEXT.split()]


def _walk_reference(text: str, pos: int) -> str:
    # the definition: skip spaces, an opening quote keeps every word, then token by token
    i = pos
    while i < len(text) and text[i] == " ":
        i += 1
    quoted = i < len(text) and text[i] in '"“'
    return _walk_noun(text, fold(text), i + quoted, len(text), [], 7, quoted=quoted)


@given(st.lists(st.sampled_from(_NOUN_WORDS), max_size=12), st.integers(0, 30))
def test_noun_phrase_is_the_walks_phrase(words: list[str], pos: int) -> None:
    # the split of plain pieces hands over to the walk at anything else: same phrase
    text = " ".join(words)
    pos = min(pos, len(text))
    assert _noun_phrase(text, fold(text), pos, len(text)) == _walk_reference(text, pos)


@pytest.mark.parametrize(
    ("after", "phrase"),
    [
        (" xã đạt chuẩn nông thôn mới, chiếm", "xã"),  # "đạt" stops it
        (" tổ chức cơ sở đảng", "tổ chức cơ sở đảng"),  # a verb that is a noun, first
        (" quân nhân dự bị.", "quân nhân dự bị"),  # "bị" ends no phrase after "dự"
        (" lít dầu DO;", "lít dầu DO"),  # capitals: an abbreviation, not "do"
        (" cán bộ y tế, chiến sĩ", "cán bộ y tế"),  # a single letter is a word
        (' "mô hình dân vận khéo" của', "mô hình dân vận khéo"),  # quoted: stop words kept
        (" a b c d e f g h", "a b c d e f g"),  # seven words at most
        (" chiếc tàu cá trị giá 1,8 tỷ", "chiếc tàu cá"),  # a multi-word stop phrase
        (" ;", ""),
    ],
)
def test_noun_phrase_cases(after: str, phrase: str) -> None:
    assert _noun_phrase(after, fold(after), 0, len(after)) == phrase


@given(st.text(alphabet=" aAİoàÁuýqQ“”–-\n.Đđ", max_size=30))
def test_fold_keeps_every_space_in_place(text: str) -> None:
    # _noun_phrase splits the text and its folded view at the same spaces
    folded = fold(text)
    assert [i for i, c in enumerate(folded) if c == " "] == [
        i for i, c in enumerate(text) if c == " "
    ]


@pytest.mark.parametrize("char", sorted(_PUNCT_STOP_CHARS))
def test_punctuation_that_ends_a_phrase_is_a_token_of_its_own(char: str) -> None:
    # _noun_phrase ends a phrase at "word" + char as the walk does: char is a token that
    # is not a letter
    assert [m.group() for m in _TOKEN.finditer(f"ab{char}cd")] == ["ab", char, "cd"]
    assert not char.isalpha()


_TAIL_WORDS = ["hơn", "gần", "như", "số", "(số", "tổng", "Chỉ", "thị", "quân", "khu", "x", "đạt"]


@given(st.lists(st.sampled_from(_TAIL_WORDS), max_size=6))
def test_no_qualifier_or_identifier_unless_a_phrase_may_end_there(words: list[str]) -> None:
    # _read_number skips both lookups when the word before the number ends neither
    before = " ".join(words) + " "
    tail = _tail_words(before)
    if not _may_end_in_phrase(tail):
        assert _qualifier(before, tail) == ""
        assert not _is_identifier(before, tail)


@pytest.mark.parametrize(
    ("before", "may"),
    [("hoàn thành hơn ", True), ("Quân khu ", True), ("(số ", True), ("có ", False)],
)
def test_may_end_in_phrase(before: str, may: bool) -> None:
    assert _may_end_in_phrase(_tail_words(before)) is may


_UNIT_TEXT = (
    "năm năng tháng thành tuần tuổi ngày người nghìn ngàn ngành triệu tỷ tỉ tổ đồng đ đơn "
    "usd vnđ vnd giờ giây quý buổi sáng thế kỷ % phần trăm xã công chí"
)
_UNIT_WORDS = _UNIT_TEXT.split()


@pytest.mark.parametrize("name", ["time_unit", "scale", "currency"])
@given(st.lists(st.sampled_from(_UNIT_WORDS), min_size=1, max_size=3), st.sampled_from(["", ","]))
def test_may_open_never_skips_a_match(name: str, words: list[str], end: str) -> None:
    # _read_number calls the unit patterns only where _may_open says they can match
    after = " " + " ".join(words) + end
    p = _patterns()
    if p[name].match(after):
        assert _may_open(after, 0, p[f"{name}_heads"])


@pytest.mark.parametrize(
    ("after", "name", "may"),
    [
        (" tháng", "scale", False),
        (" nghìn người", "scale", True),
        (" người", "scale", True),
        (" đơn vị", "currency", True),
        (" xã", "time_unit", False),
    ],
)
def test_may_open(after: str, name: str, may: bool) -> None:
    # "th" opens no scale word, "ng" does ("nghìn": the pattern decides); any "đ..." may be
    # the currency "đ"
    assert _may_open(after, 0, _patterns()[f"{name}_heads"]) is may


_SPELLED_TEXT = "hai mươi mốt xã ba năm người một số thai ( mười lăm hộ tư lớp bảy , chín"
_SPELLED_WORDS = _SPELLED_TEXT.split()


@given(st.lists(st.sampled_from(_SPELLED_WORDS), max_size=10))
def test_spelled_numbers_of_read_sentences_are_those_of_read_numbers(words: list[str]) -> None:
    # read_sentences tries a digit word only where the next word may go on with a spelled
    # number (its first two letters); read_numbers tries every digit word
    text = "Có " + " ".join(words) + " 5 xã."
    folded = fold(text)
    (found,) = read_sentences(text, folded, [Sentence(0, len(text), 0)])
    alone, _ = read_numbers(text, folded, 0, len(text))
    assert found == alone
