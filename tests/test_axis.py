"""Sex × KSCO axis metrics: the NPK published table, properties, bad input, CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from coder.axis.metrics import measure_axis, parse_sex, tabulate_axis
from coder.axis.references import load_reference
from coder.cli.axis import axis_command
from coder.errors import InputError

# Table 3 of the 2026 NPK audit paper (shared/data/npk/sex_by_ksco_major_audit2026.csv), CC BY 4.0
NPK = pd.DataFrame(
    {
        "ksco_major": [str(i) for i in range(1, 10)],
        "n_rule_mapping": ["16372", "132465", "122685", "113402", "43054", "2192", "45556", "71283", "47024"],
        "female_share_rule_mapping": ["0.395", "0.490", "0.409", "0.590", "0.496", "0.448", "0.249", "0.293", "0.427"],
        "n_reviewed_mapping": ["18419", "92097", "133772", "67404", "43006", "104", "42273", "69186", "84224"],
        "female_share_reviewed_mapping": [
            "0.385",
            "0.473",
            "0.420",
            "0.752",
            "0.496",
            "0.548",
            "0.286",
            "0.292",
            "0.444",
        ],
        "parity_rule_mapping": ["out", "in", "out", "out", "in", "in", "out", "out", "out"],
        "parity_reviewed_mapping": ["out", "in", "out", "out", "in", "in", "out", "out", "out"],
    }
)


@pytest.fixture(scope="module")
def res2025h2():
    return load_reference("kosis-res:2025H2")


def _npk(mapping, ref, **kw):
    table = tabulate_axis(
        NPK, code_col="ksco_major", n_col=f"n_{mapping}_mapping", female_share_col=f"female_share_{mapping}_mapping"
    )
    return measure_axis(table, ref, **kw)


@pytest.mark.parametrize("mapping", ["rule", "reviewed"])
def test_npk_parity_flags_match_the_paper(mapping, res2025h2):
    result = _npk(mapping, res2025h2, n_permutations=200, vintages=False)
    assert [("out" if b.parity_flag else "in") for b in result.buckets] == NPK[f"parity_{mapping}_mapping"].tolist()
    assert result.n_parity_flagged == 6
    assert result.n_ref_parity_flagged == 5


def test_npk_rule_mapping(res2025h2):
    result = _npk("rule", res2025h2, n_permutations=500, vintages=False)
    # the paper: male-dominated buckets' female shares are 2.10-3.02 times KOSIS's
    r = {b.bucket: b.r for b in result.buckets}
    assert round(r["1"], 2) == 2.10 and round(r["8"], 2) == 3.03
    out = [b.bucket for b in result.buckets if b.out_of_band]
    assert out == [b.bucket for b in result.buckets if b.out_of_band_point] == ["1", "3", "7", "8"]
    assert [b.bucket for b in result.buckets if b.bucket_out_of_band] == ["1", "4", "6", "9"]
    assert result.v_data == pytest.approx(0.2085, abs=5e-4)
    assert result.v_ref == pytest.approx(0.3615, abs=5e-4)
    assert result.rho == pytest.approx(0.577, abs=1e-3)
    assert result.verdict_attenuated is True
    assert result.verdict == "attenuated"
    assert result.permutation["p_value"] == pytest.approx(1 / 501)


def test_npk_reviewed_mapping(res2025h2):
    result = _npk("reviewed", res2025h2, n_permutations=200, vintages=False)
    b = {x.bucket: x for x in result.buckets}
    # point estimates: 1, 3, 6, 7, 8 outside [0.8, 1.25]; bucket 6 has 104 persons and its interval reaches into the band
    assert [x.bucket for x in result.buckets if x.out_of_band_point] == ["1", "3", "6", "7", "8"]
    assert b["6"].out_of_band is False
    # bucket 3 (r = 0.795) sits on the band edge: the upper 95% bound is ~0.8001, so its flag depends on the seed
    assert b["3"].r == pytest.approx(0.7951, abs=1e-4) and b["3"].r_ci[1] == pytest.approx(0.8001, abs=0.0006)
    assert b["3"].out_of_band_bonferroni is False
    assert result.n_out_of_band in (3, 4)
    # bucket-share reading: 4 of 9 out under the interval rule, robustly
    assert [x.bucket for x in result.buckets if x.bucket_out_of_band] == ["1", "2", "3", "6"]
    assert result.rho == pytest.approx(0.7245, abs=1e-3) and result.verdict_attenuated is False


def test_rho_is_one_for_data_equal_to_reference(res2025h2):
    counts = res2025h2.counts
    frame = pd.DataFrame(
        {
            "ksco_major": [b for b in res2025h2.buckets for _ in range(2)],
            "sex": ["여자", "남자"] * 9,
            "count": counts.ravel(),
        }
    )
    result = measure_axis(
        tabulate_axis(frame, count_col="count"), res2025h2, n_bootstrap=200, n_permutations=50, vintages=False
    )
    assert result.rho == pytest.approx(1.0, rel=1e-12)
    assert all(b.r == pytest.approx(1.0) and b.r_bucket == pytest.approx(1.0) for b in result.buckets)
    assert result.n_out_of_band == 0
    assert all(v["total_variation"] == pytest.approx(0, abs=1e-12) for v in result.distances.values())


@pytest.mark.parametrize(
    "values,expected",
    [
        (
            ["남자", "여자", "남", "여", "M", "f", "Male", "FEMALE", "1", "2", "남성", "여성"],
            [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0],
        ),
        ([1, 2, 2.0], [1, 0, 0]),
    ],
)
def test_sex_values_recognised(values, expected):
    assert parse_sex(values).tolist() == expected


def test_sex_map_adds_values():
    assert parse_sex(["W", "H"], sex_map={"W": "female", "H": "male"}).tolist() == [0, 1]


def test_unknown_sex_values_listed():
    with pytest.raises(InputError) as err:
        parse_sex(["남자", "여자", "X", "기타", "X"], column="gender")
    assert str(err.value) == (
        "column 'gender': unrecognised sex value(s) 'X', '기타' — values seen (rows): 'X' (2), '기타' (1), "
        "'남자' (1), '여자' (1). Recognised: 여자/남자, 여/남, 여성/남성, F/M, female/male, 2/1 (2 = female). "
        "Map other values with --sex-map VALUE=female|male."
    )


def test_rows_with_codes_exclusions_and_weights():
    frame = pd.DataFrame(
        {
            "sex": ["남자", "여자", "여자", "남자", "여자", "남자"],
            "ksco_code": ["94111", "2", "0", "A0110", "", "3"],
            "w": ["1", "2", "1", "1", "1", "3"],
        }
    )
    table = tabulate_axis(frame, code_col="ksco_code", weight_col="w")
    assert table.excluded == {"0": 1, "A": 1, "unknown": 1}
    assert table.n_persons == 3 and table.weighted
    assert table.counts[table.buckets.index("2")].tolist() == [2.0, 0.0]
    assert table.counts[table.buckets.index("9")].tolist() == [0.0, 1.0]


def test_bad_code_values():
    with pytest.raises(InputError) as err:
        tabulate_axis(pd.DataFrame({"sex": ["M"], "ksco_major": ["Z9"]}))
    assert str(err.value) == (
        "column 'ksco_major': value(s) 'Z9' are not KSCO codes or major buckets "
        "(first character 0-9 or A) — fix them or blank them (blank = unknown)."
    )


def test_bucket_missing_from_reference(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("bucket,sex,count\n" + "".join(f"{b},female,10\n{b},male,10\n" for b in "12345789"), "utf-8")
    frame = pd.DataFrame({"sex": ["M", "F", "F"], "ksco_major": ["6", "1", "2"]})
    with pytest.raises(InputError) as err:
        measure_axis(tabulate_axis(frame), load_reference(path), n_bootstrap=10, n_permutations=10)
    assert str(err.value) == (
        f"bucket(s) 6 are in the data but missing from reference {path} (it has 1, 2, 3, 4, 5, 7, 8, 9) — "
        "exclude them (--exclude 0,A,unknown,6) or use a reference that has them."
    )


def test_empty_data_bucket_missing_from_reference_is_dropped(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("bucket,sex,count\n" + "".join(f"{b},female,10\n{b},male,30\n" for b in "12"), "utf-8")
    frame = pd.DataFrame({"sex": ["M", "F", "F", "M"], "ksco_major": ["1", "1", "2", "2"]})
    result = measure_axis(tabulate_axis(frame), load_reference(path), n_bootstrap=10, n_permutations=10)
    assert [b.bucket for b in result.buckets] == ["1", "2"]


def test_zero_women_in_reference_bucket(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text(
        "bucket,sex,count\n" + "".join(f"{b},female,{0 if b == '7' else 10}\n{b},male,10\n" for b in "123456789"),
        "utf-8",
    )
    frame = pd.DataFrame({"sex": ["M", "F", "F"], "ksco_major": ["7", "1", "2"]})
    with pytest.raises(InputError) as err:
        measure_axis(tabulate_axis(frame), load_reference(path), n_bootstrap=10, n_permutations=10)
    assert str(err.value) == (
        f"reference {path}: bucket(s) 7 have 0 women, so the reference ratio r = data female share / reference "
        "female share is undefined (division by zero) — exclude the bucket(s) (--exclude 0,A,unknown,7) or use a "
        "reference with women in every bucket."
    )


def test_zero_women_or_persons_in_data_bucket_is_reported_not_divided(res2025h2):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"sex": rng.choice(["M", "F"], 500), "ksco_major": rng.choice(list("12345"), 500)})
    frame.loc[frame.ksco_major == "5", "sex"] = "M"
    result = measure_axis(tabulate_axis(frame), res2025h2, n_bootstrap=100, n_permutations=100, vintages=False)
    b = {x.bucket: x for x in result.buckets}
    assert b["5"].r == 0.0 and b["5"].note == "0 women in the data: r = 0 and its interval is degenerate"
    assert b["9"].r is None and b["9"].out_of_band is None
    assert b["9"].note == "no persons in the data: female share and r undefined"
    json.dumps(result.to_dict())


def test_age_standardisation_and_deff(res2025h2):
    rng = np.random.default_rng(1)
    n = 4000
    frame = pd.DataFrame(
        {
            "sex": rng.choice(["남자", "여자"], n),
            "ksco_major": rng.choice(list("123456789"), n),
            "age": rng.integers(19, 90, n).astype(str),
        }
    )
    frame.loc[:5, "age"] = ""
    table = tabulate_axis(frame, age_col="age")
    assert table.age_missing == 6
    result = measure_axis(table, res2025h2, n_bootstrap=200, n_permutations=200, ref_sample_size=100_000, vintages=True)
    age = result.age_standardisation
    assert age.age_reference_period == "2024H1" and "no sex split" in age.assumption
    assert len(age.buckets) == 9 and age.rho is not None
    assert [d.deff for d in result.deff] == [1.0, 1.5, 2.0]
    assert [d.n_effective for d in result.deff] == [100_000, 66_667, 50_000]
    assert len(result.vintages.periods) == 21
    assert len(result.grid) == 20


def _write_npk(tmp_path):
    path = tmp_path / "npk.csv"
    NPK.to_csv(path, index=False)
    return path


def test_cli_npk_table_json_and_csv(tmp_path):
    path = _write_npk(tmp_path)
    out_json, out_csv = tmp_path / "axis.json", tmp_path / "axis.csv"
    result = CliRunner().invoke(
        axis_command,
        [
            str(path),
            "--code-col",
            "ksco_major",
            "--n-col",
            "n_rule_mapping",
            "--female-share-col",
            "female_share_rule_mapping",
            "--reference",
            "kosis-res:2025H2",
            "--permutations",
            "300",
            "--json",
            str(out_json),
            "--csv",
            str(out_csv),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "out of band (r): 4/9" in result.output
    assert "4/5 parity flagged: data 6/9" in result.output
    assert "fixed screening heuristic" in result.output
    data = json.loads(out_json.read_text(encoding="utf-8"))
    assert data["n_out_of_band"] == 4 and data["reference"]["name"] == "kosis-res:2025H2"
    assert len(data["grid"]) == 20 and len(data["vintages"]["periods"]) == 21
    frame = pd.read_csv(out_csv, dtype=str, keep_default_na=False)
    assert frame["bucket"].tolist() == [str(i) for i in range(1, 10)]
    assert {"r", "r_ci_lo", "r_ci_hi", "out_of_band", "parity_flag", "r_bucket"} <= set(frame.columns)


def test_cli_reference_period_that_does_not_exist(tmp_path):
    path = _write_npk(tmp_path)
    result = CliRunner().invoke(
        axis_command,
        [
            str(path),
            "--n-col",
            "n_rule_mapping",
            "--female-share-col",
            "female_share_rule_mapping",
            "--reference",
            "kosis-eaps:2014",
        ],
    )
    assert isinstance(result.exception, InputError)
    assert str(result.exception) == (
        "reference kosis-eaps:2014 does not exist — kosis-eaps has the periods 2016, 2017, 2018, 2019, 2020, 2021, "
        "2022, 2023, 2024, 2025. Pick one of those, e.g. kosis-eaps:2025."
    )


def test_cli_rows_unknown_sex(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text("sex,ksco_major\n남자,1\n여자,2\n?,3\n", encoding="utf-8")
    result = CliRunner().invoke(axis_command, [str(path)])
    assert isinstance(result.exception, InputError)
    assert str(result.exception).startswith(
        "column 'sex': unrecognised sex value(s) '?' — values seen (rows): '?' (1), '남자' (1), '여자' (1)."
    )


def test_cli_mutually_exclusive_inputs(tmp_path):
    path = _write_npk(tmp_path)
    result = CliRunner().invoke(
        axis_command, [str(path), "--n-col", "a", "--female-share-col", "b", "--count-col", "c"]
    )
    assert result.exit_code == 2
    assert "--count-col and --n-col are mutually exclusive" in result.output


def _small_table(res2025h2, persons):
    from coder.axis.metrics import SexBucketTable

    share = res2025h2.counts / res2025h2.counts.sum()
    counts = np.maximum(np.round(share * persons), 1.0)
    return SexBucketTable(buckets=res2025h2.buckets, counts=counts, n_persons=int(counts.sum()), excluded={})


def test_small_frame_is_inconclusive(res2025h2):
    from coder.axis.metrics import MIN_PERSONS
    from coder.cli.axis import format_axis_table

    table = _small_table(res2025h2, 36)
    assert table.n_persons < MIN_PERSONS
    result = measure_axis(table, res2025h2, n_bootstrap=200, n_permutations=50, vintages=False)
    assert result.verdict == "inconclusive"
    assert result.to_dict()["verdict"] == "inconclusive"
    text = format_axis_table(result)
    assert "verdict (sampling interval): inconclusive" in text and "ATTENUATED" not in text


def test_interval_containing_tau_is_inconclusive():
    from coder.axis.metrics import axis_verdict

    assert axis_verdict(0.9, (0.0, 1.66), 0.7, 1000) == "inconclusive"
    assert axis_verdict(0.577, (0.52, 0.63), 0.7, 1000) == "attenuated"
    assert axis_verdict(0.85, (0.75, 0.95), 0.7, 1000) == "not_attenuated"
    assert axis_verdict(0.5, (0.45, 0.55), 0.7, 99) == "inconclusive"
    assert axis_verdict(None, None, 0.7, 1000) == "inconclusive"


def test_vintage_flag_changes_list_buckets_and_periods(res2025h2):
    from coder.cli.axis import format_axis_table

    result = _npk("reviewed", res2025h2, n_bootstrap=300, n_permutations=50)
    assert result.verdict == "not_attenuated"
    changes = result.vintages.flag_changes
    assert changes and set(changes) == set(result.vintages.buckets_with_flag_changes)
    assert all(periods for periods in changes.values())
    text = format_axis_table(result)
    assert "buckets whose r flag changes in some period:" not in text
    for b, periods in changes.items():
        assert f"bucket {b} in {', '.join(periods)}" in text
    assert result.to_dict()["vintages"]["flag_changes"] == {b: list(p) for b, p in changes.items()}


def test_employed_unstated_is_counted_apart_from_unknown(res2025h2):
    from coder.cli.axis import format_axis_table

    frame = pd.DataFrame(
        {
            "sex": ["F", "M", "F", "M", "F", "M", "F"],
            "ksco_major": ["9", "7", "", "", "", "0", "2"],
            "code_status": [
                "coded",
                "coded",
                "employed_unstated",
                "employed_unstated",
                "unknown",
                "not_employed",
                "coded",
            ],
        }
    )
    table = tabulate_axis(frame)
    assert table.excluded == {"0": 1, "A": 0, "employed_unstated": 2, "unknown": 1}
    assert table.n_persons == 3
    # without the status column the same rows all fall into unknown
    assert tabulate_axis(frame.drop(columns="code_status")).excluded["unknown"] == 3
    # an explicit --status-col under another name
    renamed = tabulate_axis(frame.rename(columns={"code_status": "st"}), status_col="st")
    assert renamed.excluded["employed_unstated"] == 2
    result = measure_axis(table, res2025h2, n_bootstrap=50, n_permutations=20, vintages=False)
    assert result.to_dict()["excluded"]["employed_unstated"] == 2
    assert "employed_unstated=2" in format_axis_table(result)


def test_cli_status_col(tmp_path):
    path = tmp_path / "coded.csv"
    rows = ["sex,ksco_major,st"] + [f"{'F' if i % 2 else 'M'},{1 + i % 9},coded" for i in range(60)]
    rows += ["F,,employed_unstated", "M,,employed_unstated", "F,,"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "axis.json"
    res = CliRunner().invoke(
        axis_command,
        [
            str(path),
            "--status-col",
            "st",
            "--json",
            str(out),
            "--quiet",
            "--bootstrap",
            "50",
            "--permutations",
            "20",
            "--no-vintages",
        ],
    )
    assert res.exit_code == 0, res.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["excluded"]["employed_unstated"] == 2 and data["excluded"]["unknown"] == 1
    assert data["verdict"] == "inconclusive"  # 60 persons < MIN_PERSONS
    # the τ × q grid gives the same three-way verdict, not a point-estimate ATT/ok on 60 persons
    assert {c["verdict"] for c in data["grid"]} == {"inconclusive"}
    res = CliRunner().invoke(
        axis_command,
        [str(path), "--status-col", "st", "--bootstrap", "50", "--permutations", "20", "--no-vintages"],
    )
    assert res.exit_code == 0, res.output
    grid = res.output.split("robustness grid")[1].split("\n\n")[0].split("\n", 2)[2]  # the cells only
    assert "inc " in grid and "ATT " not in grid and " ok " not in grid


@pytest.mark.parametrize("flag", ["--json", "--csv"])
def test_cli_output_equal_to_the_input_is_refused(tmp_path, flag):
    from coder.cli import cli

    path = _write_npk(tmp_path)
    before = path.read_bytes()
    args = ["axis", str(path), "--n-col", "n_rule_mapping", "--female-share-col", "female_share_rule_mapping"]
    result = CliRunner().invoke(cli, [*args, flag, str(path)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: {path}: {flag} is the same file as the input — writing it would overwrite the input. "
        "Choose another output path.\n"
    )
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["npk.csv"]  # no sidecar, no temporary file


def test_axis_file_writes_json_and_csv_with_sidecars(tmp_path):
    from coder.axis import axis_file
    from coder.resources import file_sha256

    path = _write_npk(tmp_path)
    out_json, out_csv = tmp_path / "out" / "axis.json", tmp_path / "out" / "axis.csv"
    result = axis_file(
        path,
        json_path=out_json,
        csv_path=out_csv,
        n_col="n_rule_mapping",
        female_share_col="female_share_rule_mapping",
        n_bootstrap=50,
        n_permutations=50,
        vintages=False,
    )
    assert json.loads(out_json.read_text(encoding="utf-8")) == json.loads(json.dumps(result.to_dict()))
    assert pd.read_csv(out_csv, dtype=str)["bucket"].tolist() == [str(i) for i in range(1, 10)]
    for out in (out_json, out_csv):
        meta = json.loads((tmp_path / "out" / f"{out.name}.meta.json").read_text(encoding="utf-8"))
        assert meta["command"] == "coder axis"
        assert meta["outputs"]["this"] == str(out) and meta["outputs"]["sha256"] == file_sha256(out)
        assert meta["inputs"]["sha256"] == file_sha256(path)
        assert meta["files_sha256"] == {"references/kosis-res:2025H2": load_reference("kosis-res:2025H2").sha256}
        assert meta["params"]["n_col"] == "n_rule_mapping" and meta["params"]["vintages"] is False
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "axis.csv",
        "axis.csv.meta.json",
        "axis.json",
        "axis.json.meta.json",
    ]


def test_axis_file_refuses_a_reference_csv_as_output(tmp_path):
    from coder.axis import axis_file

    path = _write_npk(tmp_path)
    ref = tmp_path / "ref.csv"
    ref.write_text("bucket,sex,count\n1,female,1\n1,male,1\n", encoding="utf-8")
    with pytest.raises(InputError, match="--csv is the same file as the reference"):
        axis_file(path, reference=ref, csv_path=ref)
    assert ref.read_text(encoding="utf-8") == "bucket,sex,count\n1,female,1\n1,male,1\n"
