import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coder.normalize import label_key, normalize_label


@pytest.mark.parametrize(
    ("raw", "norm", "key"),
    [
        ("  건물  청소원 ", "건물 청소원", "건물청소원"),
        ("건물\t청소원\n", "건물 청소원", "건물청소원"),
        ("의회 의원 ∙ 고위 공무원", "의회 의원·고위 공무원", "의회의원고위공무원"),
        ("감정ㆍ기술영업", "감정·기술영업", "감정기술영업"),
        ("감정・기술영업", "감정·기술영업", "감정기술영업"),
        ("피씨（ PC ）방 관리원", "피씨(PC)방 관리원", "피씨(pc)방관리원"),
        ("【주방】 보조원", "(주방) 보조원", "(주방)보조원"),
        ("전직 건물 경비원 ,현재 구직중", "전직 건물 경비원, 현재 구직중", "전직건물경비원,현재구직중"),
        ("ＩＴ 컨설턴트", "IT 컨설턴트", "it컨설턴트"),
        ("ㄱㅏ", "가", "가"),  # NFKC composes compatibility jamo
        (None, "", ""),
        (math.nan, "", ""),
        ("   ", "", ""),
    ],
)
def test_table(raw, norm, key):
    assert normalize_label(raw) == norm
    assert label_key(raw) == key


@pytest.mark.parametrize(
    "raw",
    [
        "NaN",
        "nan",
        "None",
        "none",
        "null",
        "NULL",
        "-",
        "--",
        " - ",
        "N/A",
        "n/a",
        "N / A",
        "#N/A",
        ".",
        "...",
        "?",
        "NA",
        "<NA>",
        "NaT",
        "－",
        "—",
    ],
)
def test_missing_placeholders_are_missing(raw):
    assert normalize_label(raw) == ""
    assert label_key(raw) == ""


@pytest.mark.parametrize("raw", ["nana", "NaN 디자이너", "-간호사", "나나", "None of", "A/S 기사"])
def test_words_containing_placeholders_are_labels(raw):
    assert label_key(raw) != ""


def test_hangul_is_never_dropped():
    assert label_key("한식 조리사") == "한식조리사"
    assert normalize_label("한식 조리사") == "한식 조리사"


text = st.text(
    alphabet=st.sampled_from(
        [
            *"가나다라 건물청소원·∙ㆍ・•()（）【】「」,， \t\nABCabcＡ１ﾊ①",
            "ᄀ",
            "ᅡ",
            "\u3000",
            "n",
            "a",
            "N",
            "/",
            "-",
            ".",
            "?",
            "#",
        ]
    ),
    max_size=30,
)


@given(st.one_of(text, st.text(max_size=20)))
def test_normalize_is_idempotent(s):
    once = normalize_label(s)
    assert normalize_label(once) == once


@given(st.one_of(text, st.text(max_size=20)))
def test_key_is_idempotent_and_agrees_with_normal_form(s):
    key = label_key(s)
    assert label_key(key) == key
    assert label_key(normalize_label(s)) == key
    assert not any(ch.isspace() for ch in key)
