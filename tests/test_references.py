"""The curated KOSIS reference tables and their loader."""

from pathlib import Path

import numpy as np
import pytest

from coder.axis import references
from coder.axis.references import (
    KSCO_MAJORS,
    build_reference_tables,
    list_reference_periods,
    list_references,
    load_age_structure,
    load_reference,
)
from coder.errors import CrosswalkError, InputError
from coder.resources import data_path, file_sha256, verify_manifest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "kosis"  # beside the checkout, when present

# 2026 NPK audit paper, female share per KSCO major (KOSIS RES 2025 H2), quoted in shared/data/kosis/SOURCES.md §0
PAPER_FEMALE_SHARES = [0.188, 0.483, 0.528, 0.691, 0.525, 0.379, 0.111, 0.097, 0.514]


def test_manifest_matches_files():
    hashes = verify_manifest("references")
    assert set(hashes) == {"SOURCES.md", "kosis_sex_by_ksco_major.csv", "kosis_res_ksco_major_by_age.csv"}


def test_res_2025h2_reproduces_paper_shares():
    ref = load_reference("kosis-res:2025H2")
    assert ref.buckets == KSCO_MAJORS
    assert ref.unit == "thousand persons"
    assert ref.counts[0].tolist() == [74000.0, 319000.0]
    assert np.abs(ref.female_share - PAPER_FEMALE_SHARES).max() < 0.0006
    assert ref.n == pytest.approx(29_040_000, abs=2000)


def test_periods_listed_per_survey():
    refs = list_references()
    assert refs["kosis-res"][0] == "2015H1" and refs["kosis-res"][-1] == "2025H2" and len(refs["kosis-res"]) == 22
    assert refs["kosis-eaps"] == tuple(str(y) for y in range(2016, 2026))
    assert list_reference_periods("kosis-eaps:2025") == refs["kosis-eaps"]
    assert list_reference_periods("my.csv") == ()


def test_eaps_2025():
    ref = load_reference("kosis-eaps:2025")
    assert ref.counts[0].tolist() == [75000.0, 340000.0]
    assert ref.survey.startswith("경제활동인구조사")


def test_period_that_does_not_exist_lists_the_ones_that_do():
    with pytest.raises(InputError) as err:
        load_reference("kosis-res:2026H1")
    periods = ", ".join(f"{y}H{h}" for y in range(2015, 2026) for h in (1, 2))
    assert str(err.value) == (
        f"reference kosis-res:2026H1 does not exist — kosis-res has the periods {periods}. "
        "Pick one of those, e.g. kosis-res:2025H2."
    )


def test_unknown_source():
    with pytest.raises(InputError) as err:
        load_reference("kosis-census:2020")
    assert str(err.value) == (
        "unknown reference source 'kosis-census' in 'kosis-census:2020' — use kosis-res:<period> or "
        "kosis-eaps:<period>, or the path of a CSV with columns bucket, sex, count (or share)."
    )


def test_user_reference_counts_and_shares(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("bucket,sex,count\n1,여자,10\n1,남자,30\n2,F,20\n2,M,20\n", encoding="utf-8")
    ref = load_reference(path)
    assert ref.buckets == ("1", "2") and ref.counts.tolist() == [[10, 30], [20, 20]] and ref.n == 80
    shares = tmp_path / "shares.csv"
    shares.write_text("bucket,sex,share\n1,female,0.1\n1,male,0.3\n2,female,0.3\n2,male,0.3\n", encoding="utf-8")
    ref = load_reference(shares)
    assert ref.n is None and ref.unit == "share"


def test_user_reference_bad_rows(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("bucket,sex,count\n1,X,10\n1,남자,abc\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_reference(path)
    assert str(err.value) == (
        f"{path}: unusable reference rows — line 2: sex='X' count='10'; line 3: sex='남자' count='abc'. "
        "Sex must be female/male (여자/남자, F/M, 2/1) and the value a non-negative number."
    )


def test_missing_reference_path():
    with pytest.raises(InputError, match="neither a named reference nor an existing file"):
        load_reference("no/such/ref.csv")


def test_age_structure_falls_back_to_latest_wave():
    age = load_age_structure("2025H2")
    assert age.period == "2024H1"
    assert age.counts[0].tolist() == [3000.0, 21000.0, 90000.0, 227000.0, 95000.0]
    assert load_age_structure("2019H2").period == "2019H2"
    assert load_age_structure("2019").period == "2019H2"


def test_altered_file_is_refused(monkeypatch):
    references._checked_at.cache_clear()
    monkeypatch.setattr(references, "file_sha256", lambda path: "0" * 64)
    try:
        with pytest.raises(CrosswalkError, match="differs from manifest"):
            load_reference("kosis-res:2025H2")
    finally:
        references._checked_at.cache_clear()


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared KOSIS downloads not present")
def test_tidy_tables_rebuild_byte_for_byte(tmp_path):
    written = build_reference_tables(SHARED, tmp_path)
    for name, path in written.items():
        assert file_sha256(path) == file_sha256(data_path("references", name)), name


def test_cp949_user_reference_is_read(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_bytes("bucket,sex,count\n1,여자,30\n1,남자,70\n2,여자,50\n2,남자,50\n".encode("cp949"))
    ref = load_reference(path)
    assert ref.buckets == ("1", "2")
    assert ref.counts.tolist() == [[30.0, 70.0], [50.0, 50.0]]
    assert ref.name == str(path)


def test_user_reference_txt_is_sniffed(tmp_path):
    path = tmp_path / "ref.txt"
    path.write_text("bucket;sex;share\n1;F;0.2\n1;M;0.8\n", encoding="utf-8")
    assert load_reference(path).counts.tolist() == [[0.2, 0.8]]


def test_edited_user_reference_is_reloaded(tmp_path):
    import os

    path = tmp_path / "ref.csv"
    path.write_text("bucket,sex,count\n1,F,30\n1,M,70\n", encoding="utf-8")
    first = load_reference(path)
    mtime = path.stat().st_mtime_ns
    path.write_text("bucket,sex,count\n1,F,40\n1,M,60\n", encoding="utf-8")
    os.utime(path, ns=(mtime + 1_000_000_000, mtime + 1_000_000_000))
    second = load_reference(path)
    assert second.counts.tolist() == [[40.0, 60.0]]
    assert second.sha256 != first.sha256


def test_user_reference_without_value_column(tmp_path):
    path = tmp_path / "ref.csv"
    path.write_text("bucket,sex,n\n1,F,30\n", encoding="utf-8")
    with pytest.raises(
        InputError, match=r"ref.csv: reference CSV has none of the columns count, share \(found bucket, sex, n\)"
    ):
        load_reference(path)
