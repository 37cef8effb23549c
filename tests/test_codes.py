from collections import Counter

import pytest

from coder.codes import load_codes
from coder.errors import CrosswalkError
from coder.resources import data_path, load_manifest, verify_manifest


def test_manifest_hashes_hold():
    hashes = verify_manifest("crosswalks")
    assert "ksco7.csv" in hashes
    assert hashes["ksco7.csv"] == load_manifest("crosswalks")["files"]["ksco7.csv"]["sha256"]


def test_manifest_entries_have_provenance():
    for name, entry in load_manifest("crosswalks")["files"].items():
        assert entry.get("source"), name
        assert entry.get("licence"), name


def test_level_counts_are_exactly_ksco7():
    codes = load_codes()
    assert Counter(c.level for c in codes) == {1: 10, 2: 52, 3: 156, 4: 450, 5: 1231}
    assert len(codes) == 1899


def test_haengjeongsa_is_39993_under_3999_as_in_the_official_list():
    """Issue 23 item 5: the official KSCO-7 list (통계청 「산업직업분류」, 2025) has 39993 행정사 under 3999.

    27220 is the KSCO-8 code; the primary source had it under 2722 자산 운용가.
    """
    codes = load_codes()
    assert "27220" not in codes
    assert codes.title("39993") == "행정사" and codes.parent("39993") == "3999"
    assert codes.ancestors("39993") == ("39993", "3999", "399", "39", "3")
    assert codes.lookup_title("행정사") == ("39993",)
    assert sorted(c.code for c in codes if c.parent == "3999") == ["39991", "39992", "39993", "39994", "39999"]
    assert sorted(c.code for c in codes if c.parent == "2722") == ["27221", "27229"]
    # the move keeps the official counts per level (10/52/156/450/1,231)
    assert Counter(c.level for c in codes) == {1: 10, 2: 52, 3: 156, 4: 450, 5: 1231}


def test_every_parent_exists_and_is_a_prefix():
    codes = load_codes()
    for c in codes:
        if c.level == 1:
            assert c.parent == ""
        else:
            assert c.parent in codes
            assert codes.level(c.parent) == c.level - 1
            assert c.code.startswith(c.parent)


def test_codes_are_strings_with_military_letters():
    codes = load_codes()
    assert codes.title("A0110") == "영관급 이상 장교"
    assert codes.ancestors("A0110") == ("A0110", "A011", "A01", "A0", "A")
    assert codes.major("A0110") == "A"
    assert all(isinstance(c.code, str) for c in codes)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("건물 청소원", ("94111",)),
        ("건물청소원", ("94111",)),
        ("검표원", ("94220", "9422")),  # repeated across levels: deepest first
        ("의회 의원∙고위 공무원 및 공공단체 임원", ("1110", "111")),
        ("없는 직업", ()),
    ],
)
def test_title_index(text, expected):
    assert load_codes().lookup_title(text) == expected


def test_truncate_and_lineage():
    codes = load_codes()
    assert codes.truncate("94111", 2) == "94"
    assert codes.same_lineage("94", "94111")
    assert not codes.same_lineage("94111", "94112")


def test_altered_file_is_caught(tmp_path, monkeypatch):
    import shutil

    import coder.resources as res

    fake = tmp_path / "pkg"
    shutil.copytree(data_path("crosswalks"), fake / "crosswalks")
    with open(fake / "crosswalks" / "ksco7.csv", "a", encoding="utf-8") as fh:
        fh.write("5,99998,가짜 직업,9999,x\n")
    monkeypatch.setattr(res, "_PACKAGE", fake / "coder")
    with pytest.raises(CrosswalkError, match=r"crosswalks/ksco7.csv: sha256 .* differs from manifest"):
        verify_manifest("crosswalks")


def test_bad_code_list_lists_every_problem(tmp_path):
    path = tmp_path / "codes.csv"
    path.write_text(
        "level,code,title_ko,parent_code\n1,1,관리자,\n2,11,고위직,1\n2,11,중복,1\n3,129,고아,12\nx,2,전문가,\n",
        encoding="utf-8",
    )
    with pytest.raises(CrosswalkError) as info:
        load_codes(path)
    msg = str(info.value)
    assert "line 4: code 11 appears twice" in msg
    assert "line 6: level 'x' is not a number" in msg
    assert "code 129: parent 12 is not in the list" in msg


def test_file_identity_changes_when_the_file_does(tmp_path):
    import os

    from coder.resources import file_identity

    path = tmp_path / "x.csv"
    path.write_text("a\n", encoding="utf-8")
    first = file_identity(path)
    assert first[0] == str(path.resolve())
    assert first[2] == 2
    path.write_text("ab\n", encoding="utf-8")
    os.utime(path, ns=(first[1] + 1_000_000_000, first[1] + 1_000_000_000))
    second = file_identity(path)
    assert second != first
    assert second[2] == 3
    assert file_identity(tmp_path / "missing.csv") == (str((tmp_path / "missing.csv").resolve()), -1, -1)


def _touch_later(path, mtime_ns):
    import os

    os.utime(path, ns=(mtime_ns + 1_000_000_000, mtime_ns + 1_000_000_000))


def test_edited_code_list_and_index_are_reloaded(tmp_path):
    from coder.raters.index import load_index

    path = tmp_path / "codes.csv"
    path.write_text("level,code,title_ko,parent_code\n1,9,단순노무 종사자,\n", encoding="utf-8")
    first = load_codes(path)
    mtime = path.stat().st_mtime_ns
    path.write_text("level,code,title_ko,parent_code\n1,9,단순노무 종사자,\n1,8,장치 조작원,\n", encoding="utf-8")
    _touch_later(path, mtime)
    second = load_codes(path)
    assert len(first) == 1 and len(second) == 2
    assert second.sha256 != first.sha256

    jobdict = tmp_path / "jobdict.csv"
    jobdict.write_text("text,ksco_code,kind,job_id\n병원청소원,9411,job_name,J1\n", encoding="utf-8")
    assert [e.code for e in load_index(jobdict).lookup("병원청소원")] == ["9411"]
    mtime = jobdict.stat().st_mtime_ns
    jobdict.write_text("text,ksco_code,kind,job_id\n병원청소원,9412,job_name,J1\n", encoding="utf-8")
    _touch_later(jobdict, mtime)
    assert [e.code for e in load_index(jobdict).lookup("병원청소원")] == ["9412"]


def test_cp949_job_dictionary_is_read(tmp_path):
    from coder.raters.index import read_jobdict

    path = tmp_path / "jobdict.csv"
    path.write_bytes("text,ksco_code,kind,job_id\n병원청소원,9411,job_name,J1\n".encode("cp949"))
    assert [e.text for e in read_jobdict(path, load_codes())] == ["병원청소원"]
