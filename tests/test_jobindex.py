"""Job-dictionary index (rater ``index``): exact matches, titles, ambiguity, bad files."""

from __future__ import annotations

import math
import re

import pytest

from coder.codes import load_codes
from coder.errors import CrosswalkError
from coder.normalize import label_key
from coder.raters.index import IndexEntry, build_index, index_entries, index_rater, load_index, read_jobdict
from coder.resources import verify_manifest


@pytest.mark.parametrize(
    ("text", "code", "detail"),
    [
        ("병원청소원", "9411", "jobdict:K000004088:job_name"),
        ("병원 청소원", "9411", "jobdict:K000004088:job_name"),
        (" 병원  청소원 ", "9411", "jobdict:K000004088:job_name"),
        ("휠체어조립원", "8544", "jobdict:K000006047:job_name"),
        ("포장 반장", "9300", "jobdict:K000002123:job_name"),
        ("PC방관리원", "", ""),
    ],
)
def test_exact_match_with_spacing_variants(text, code, detail):
    r = index_rater([label_key(text)])
    assert r.rater == "index"
    assert r.codes == (code,)
    assert r.details == (detail,)
    assert (r.scores[0] == 1.0) if code else math.isnan(r.scores[0])


def test_similar_name_carries_its_jobs_code():
    r = index_rater(["병원청소원", "피씨(pc)방관리원"])
    assert r.codes == ("9411", "4323")
    assert all(d.startswith("jobdict:K") for d in r.details)


def test_every_ksco_title_gets_its_own_code():
    codes = load_codes()
    keys = sorted(codes.by_title_key)
    r = index_rater(keys)
    wrong = [
        (k, c, codes.by_title_key[k][0]) for k, c in zip(keys, r.codes, strict=True) if c != codes.by_title_key[k][0]
    ]
    assert wrong == []
    assert r.codes[keys.index(label_key("건물 청소원"))] == "94111"
    assert r.details[keys.index(label_key("건물 청소원"))].startswith("ksco7:94111;jobdict:")


def _e(text: str, code: str, source: str = "jobdict", ref: str = "J1") -> IndexEntry:
    return IndexEntry(text, label_key(text), code, source, ref, "job_name" if source == "jobdict" else "title")


def test_conflicting_entries_stay_ambiguous():
    index = build_index([_e("검수원", "3124", ref="J1"), _e("검수 원", "2741", ref="J2"), _e("도배공", "7832")])
    r = index_rater(["검수원", "도배공"], index=index)
    assert r.codes == ("", "7832")
    assert math.isnan(r.scores[0])
    assert r.details[0] == "ambiguous:3124=jobdict:J1:job_name;2741=jobdict:J2:job_name"
    assert r.extra["n_entries"] == (2, 1)


def test_same_lineage_entries_resolve_to_the_deepest_code():
    index = build_index([_e("청소원", "9411", ref="J9"), _e("청소원", "94111", source="ksco7", ref="94111")])
    r = index_rater(["청소원"], index=index)
    assert r.codes == ("94111",)
    assert r.details == ("ksco7:94111;jobdict:J9:job_name",)


def test_index_entries_cover_dictionary_and_titles():
    entries = index_entries()
    sources = {e.source for e in entries}
    assert sources == {"jobdict", "ksco7"}
    assert sum(e.source == "jobdict" for e in entries) == 5280
    assert sum(e.source == "ksco7" for e in entries) == len(load_codes())
    assert all(e.key == label_key(e.text) and isinstance(e.code, str) for e in entries)
    with pytest.raises(AttributeError):
        entries[0].code = "1"  # frozen


def test_dictionary_keys_are_unique():
    ix = load_index()
    dict_keys = [e.key for e in ix.entries if e.source == "jobdict"]
    assert len(dict_keys) == len(set(dict_keys))


def test_bad_dictionary_reports_every_row(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text(
        "text,ksco_code,kind,job_id,inq_year\n"
        "청소원,9411,job_name,J1,2020\n"
        "오류,94111,job_name,J2,2020\n"
        "없음,0000,job_name,J3,2020\n"
        "종류,9411,other,J4,2020\n",
        encoding="utf-8",
    )
    with pytest.raises(CrosswalkError) as exc:
        read_jobdict(p, load_codes())
    msg = str(exc.value)
    assert "line 3: code '94111' is not a 4-digit KSCO-7 unit group" in msg
    assert "line 4: code '0000'" in msg
    assert "line 5: kind 'other'" in msg


def test_missing_dictionary_says_how_to_fix(tmp_path):
    with pytest.raises(
        CrosswalkError, match=re.escape("job dictionary not found — restore crosswalks/jobdict_index.csv")
    ):
        load_index(tmp_path / "nope.csv")


def test_manifest_lists_the_dictionary():
    hashes = verify_manifest("crosswalks")
    assert {"jobdict_index.csv", "jobdict_README.md"} <= set(hashes)
    assert load_index().sha256["jobdict_index.csv"] == hashes["jobdict_index.csv"]


def test_an_empty_index_or_training_set_is_used_not_replaced_by_the_bundled_one():
    # `x or load_x()` misfired on empty objects (falsy through __len__): an empty index is still the user's index
    from coder.raters.model_fit import training_data

    empty = build_index([])
    assert len(empty) == 0
    keys = [label_key("병원 청소원"), label_key("간호사")]
    result = index_rater(keys, index=empty)
    assert list(result.codes) == ["", ""]
    data = training_data(empty, codes=load_codes())  # only parts of the code list's own titles remain
    assert len(data) < len(training_data()) and set(data.sources) == {"ksco7_part"}
