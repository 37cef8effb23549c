import json
import math

import numpy as np
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


def _plain_scores(queries, choices):
    """fuzzy_scores on the jamo strings themselves (no one-byte alphabet), pair by pair."""
    from rapidfuzz import fuzz
    from rapidfuzz.distance import Levenshtein

    out = np.zeros((len(queries), len(choices)), dtype=np.float32)
    for i, q in enumerate(queries):
        qj = decompose_jamo(q)
        for j, c in enumerate(choices):
            cj = decompose_jamo(c)
            s = np.float32(fuzz.ratio(qj, cj)) / 100
            if len(qj) >= 6 and Levenshtein.distance(qj, cj) == 1:
                s = max(s, np.float32(0.96))
            out[i, j] = s
    return out


TEXT = st.text(alphabet="간호사효가나가ㅏ각닭 abAB1(-", max_size=9)


@given(st.lists(TEXT, min_size=1, max_size=6), st.lists(TEXT, min_size=1, max_size=6))
def test_scores_on_the_one_byte_alphabet_equal_the_jamo_scores(queries, choices):
    # characters the choices lack (ㅏ, a, 1, …) match nothing, whichever they are
    assert np.array_equal(fuzzy_scores(queries, choices), _plain_scores(queries, choices))


def test_an_index_of_255_characters_or_more_is_scored_on_its_jamo():
    choices = ["".join(chr(0x4E00 + 3 * i + j) for j in range(3)) for i in range(100)] + ["간호사", "간호조무사"]
    queries = [choices[5], choices[5][:2] + "x", "간효사", "간호사ㅏ", chr(0x4E00 + 7) + "호사"]
    assert np.array_equal(fuzzy_scores(queries, choices), _plain_scores(queries, choices))


def test_equal_scores_are_ranked_by_key_in_index_order_and_deepest_code_first_within_a_key():
    from coder.raters.fuzzy import ShortlistEntry

    entries = [
        ShortlistEntry("간호사", "간호사", "2430", "jobdict"),
        ShortlistEntry("간호 사", "간호사", "24300", "ksco7"),  # the same key: the same score, the deeper code first
        ShortlistEntry("간호자", "간호자", "2431", "jobdict"),
        ShortlistEntry("간호수", "간호수", "2432", "jobdict"),  # both one jamo from 간호사: 0.96
        ShortlistEntry("간호 수", "간호수", "2432", "jobdict"),  # same key and code: the first text is shown
    ]
    ahead = fuzzy_shortlist(["간호사"], entries=entries, k=5)
    assert ahead.candidates[0] == (("24300", 1.0), ("2430", 1.0), ("2431", 0.96), ("2432", 0.96))
    assert json.loads(ahead.details[0])[0][0] == "간호 사" and json.loads(ahead.details[0])[3][0] == "간호수"
    behind = fuzzy_shortlist(["간호사"], entries=entries[::-1], k=5)
    assert [c for c, _ in behind.candidates[0]] == ["24300", "2430", "2432", "2431"]
    assert json.loads(behind.details[0])[2][0] == "간호 수"


def test_the_ratio_from_the_common_subsequence_is_rapidfuzz_s_on_every_length_sum_below_319():
    from rapidfuzz import fuzz

    from coder.raters.fuzzy import _Columns, title_entries

    pairs = [(s, n) for s in range(1, 319) for n in range(s // 2 + 1)]  # sum of lengths, common subsequence
    queries = ["a" * n + "b" * ((s + 1) // 2 - n) for s, n in pairs]
    choices = ["a" * n + "c" * (s // 2 - n) for s, n in pairs]
    want = np.array([fuzz.ratio(q, c) for q, c in zip(queries, choices, strict=True)], dtype=np.float32)
    columns = _Columns(title_entries()[:1], 20)
    columns.jamo, columns.clen = choices, np.array([len(c) for c in choices])
    rows = cols = np.arange(len(pairs))
    lcs = np.array([n for _, n in pairs])
    got = columns._ratio(queries, lcs, np.array([len(q) for q in queries]), rows, cols)
    assert np.array_equal(got, want)
    # a longer pair is scored by rapidfuzz: here, the same
    far = ["a" * 150 + "b" * 60, "a" * 140 + "c" * 150]
    columns.jamo, columns.clen = far[1:], np.array([290])
    got = columns._ratio(far[:1], np.array([140]), np.array([210]), np.array([0]), np.array([0]))
    assert got[0] == np.float32(fuzz.ratio(*far)) and got.dtype == np.float32
