import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coder.raters.fuzzy import FUZZY_THRESHOLD, decompose_jamo, fuzzy_scores, fuzzy_shortlist


def test_decompose_jamo():
    assert decompose_jamo("간호사") == "\u1100\u1161\u11ab\u1112\u1169\u1109\u1161"
    assert decompose_jamo("a가-") == "a\u1100\u1161-"
    assert decompose_jamo("힣") == "\u1112\u1175\u11c2"


@pytest.mark.parametrize("typo", ["간효사", "간호서", "감호사", "간호사ㅏ"])
def test_one_jamo_typo_of_a_title_is_final(typo):
    result = fuzzy_shortlist([typo])
    assert result.codes[0] == "2430"  # 간호사
    assert result.scores[0] >= FUZZY_THRESHOLD
    assert result.extra["final_ok"] == (True,)
    assert result.candidates[0][0] == (result.codes[0], result.scores[0])
    assert len(result.candidates[0]) == 5


def test_unrelated_and_one_syllable_words_stay_below_threshold():
    result = fuzzy_shortlist(["바나나우유", "개"])
    assert all(s < FUZZY_THRESHOLD for s in result.scores)
    assert fuzzy_shortlist([""]).candidates == ((),)
    assert math.isnan(fuzzy_shortlist([""]).scores[0])


@given(st.text(alphabet="가간호사효ㅏab", max_size=6), st.text(alphabet="가간호사효ㅏab", max_size=6))
def test_score_in_unit_interval(a, b):
    s = float(fuzzy_scores([a], [b])[0, 0])
    assert 0.0 <= s <= 1.0
