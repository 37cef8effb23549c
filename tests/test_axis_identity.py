"""One frame: the same weighted survey rows through `coder axis`, `sensitivity`, `report` and `demo --input`.

The survey: 207 respondents, weights summing to ~390,000 persons, students, homemakers,
retirees and soldiers (out of the comparison), one employed-but-unstated answer, and one
respondent alone in bucket 6 (어부). Every command must report the same frame and the same ρ with
the same three intervals and verdict (issue 20, item 1).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from coder.cli import cli

# (answer, respondents, female share); a realistic mix for a household survey's occupation question
JOBS = [
    ("회사원", 22, 0.45),
    ("사무원", 14, 0.65),
    ("간호사", 9, 0.95),
    ("초등학교 교사", 8, 0.8),
    ("학생", 16, 0.5),
    ("주부", 14, 0.98),
    ("무직", 8, 0.4),
    ("은퇴", 5, 0.4),
    ("택시 기사", 7, 0.05),
    ("화물차 운전원", 6, 0.05),
    ("요양보호사", 8, 0.9),
    ("미용사", 5, 0.85),
    ("소프트웨어 개발자", 9, 0.25),
    ("판매원", 10, 0.6),
    ("음식점 주방장", 5, 0.3),
    ("청소원", 7, 0.75),
    ("경비원", 6, 0.05),
    ("자영업", 6, 0.4),
    ("건설 노무자", 6, 0.1),
    ("회계사", 3, 0.4),
    ("의사", 3, 0.3),
    ("은행원", 4, 0.55),
    ("어부", 1, 0.0),
    ("보험설계사", 4, 0.8),
    ("전기 기사", 3, 0.05),
    ("용접공", 3, 0.02),
    ("조리사", 4, 0.6),
    ("군인", 2, 0.1),
    ("식당 종업원", 5, 0.7),
    ("학원 강사", 4, 0.6),
]
KEYS = ("n_respondents", "persons_weighted", "n_effective", "rho", "rho_ci", "rho_ci_coding", "rho_ci_total")
SAME = (
    *KEYS,
    "verdict",
    "verdict_interval",
    "weighted",
    "tau",
    "n_draws",
    "n_bootstrap",
    "buckets_in",
    "bucket_respondents",
    "buckets_out",
    "min_bucket_respondents",
    "uncertain_labels",
)


def survey(seed: int = 20) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for job, n, female in JOBS:
        for _ in range(n):
            sex = "여자" if rng.random() < female else "남자"
            rows.append((job, sex, round(float(rng.lognormal(7.45, 0.55)), 1)))
    frame = pd.DataFrame(rows, columns=["job", "sex", "weight"])
    frame.insert(0, "id", range(1, len(frame) + 1))
    return frame


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Run the four commands once; return each command's axis object and the survey."""
    tmp = tmp_path_factory.mktemp("identity")
    rows = survey()
    rows.to_csv(tmp / "survey.csv", index=False)
    runner = CliRunner()

    def run(*args):
        result = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    common = ["--sex-col", "sex", "--weight-col", "weight"]
    demo = tmp / "demo"
    run("demo", "--input", tmp / "survey.csv", "--text-col", "job", *common, "--replicates", 5, "-o", demo, "-q")
    checked = demo / "crosswalk.checked.csv"  # the demo codes, then applies the default consistency rules
    run("axis", demo / "coded.csv", *common, "--crosswalk", checked, "--json", tmp / "axis.json", "-q")
    run("sensitivity", checked, demo / "coded.csv", *common, "--replicates", 5, "-o", tmp / "sens", "-q")
    run("report", checked, demo / "coded.csv", *common, "--replicates", 5, "-o", tmp / "rep" / "report.html", "-q")
    # the unchecked crosswalk with the same rule set applied by the sweeps gives the same frame too
    run(
        "sensitivity",
        demo / "crosswalk.csv",
        demo / "coded.csv",
        *common,
        "--rules",
        "default",
        "--replicates",
        5,
        "-o",
        tmp / "sens_rules",
        "-q",
    )

    def load(path):
        return json.loads(path.read_text(encoding="utf-8"))

    axis_json = load(tmp / "axis.json")
    out = {
        "axis": axis_json["axis"],
        "sensitivity": load(tmp / "sens" / "sensitivity.json")["axis"],
        "sensitivity --rules": load(tmp / "sens_rules" / "sensitivity.json")["axis"],
        "report": load(tmp / "rep" / "report.json")["axis"]["decided"]["axis"],
        "demo --input": load(demo / "report.json")["axis"]["decided"]["axis"],
    }
    coded = pd.read_csv(demo / "coded.csv", dtype=str, keep_default_na=False)
    return out, axis_json, load(tmp / "sens" / "sensitivity.json"), coded


def test_survey_fixture_is_a_weighted_survey():
    rows = survey()
    assert len(rows) == 207
    assert 380_000 < rows["weight"].sum() < 400_000


def test_every_command_reports_the_same_axis(runs):
    objects, *_ = runs
    first = objects["axis"]
    for name, obj in objects.items():
        for key in SAME:
            assert obj[key] == first[key], f"{name}: {key} {obj[key]!r} != coder axis {first[key]!r}"
    assert first["verdict"] in ("attenuated", "not_attenuated", "inconclusive")
    assert first["verdict_interval"] == "rho_ci_total"


def test_the_frame_counts_respondents_and_weights(runs):
    objects, _, _, coded = runs
    ax = objects["axis"]
    employed = coded[coded["ksco_major"].isin(list("123456789"))]
    w = employed["weight"].astype(float)
    assert ax["weighted"] is True
    assert ax["n_respondents"] == len(employed)
    assert ax["persons_weighted"] == pytest.approx(w.sum())
    assert ax["n_effective"] == pytest.approx(w.sum() ** 2 / (w**2).sum())
    assert ax["n_effective"] < ax["n_respondents"] < ax["persons_weighted"]
    out = {b["bucket"]: b["respondents"] for b in ax["buckets_out"]}
    assert out["0"] == 16 + 14 + 8 + 5 and out["A"] == 2 and out["employed_unstated"] == 6
    assert ax["bucket_respondents"]["6"] == 1
    # respondents are resampled, not persons: the sampling interval is wide on 150-odd respondents
    lo, hi = ax["rho_ci"]
    assert hi - lo > 0.1
    assert ax["rho_ci_total"][0] <= ax["rho_ci"][0] + 0.05 and ax["rho_ci_total"][1] >= ax["rho_ci"][1] - 0.05
    assert ax["n_draws"] == 1000 and ax["uncertain_labels"] and len(ax["uncertain_labels"]) <= 20


def test_the_one_respondent_bucket_gets_a_note_not_an_interval(runs):
    objects, axis_json, sens, _ = runs
    six = next(b for b in axis_json["buckets"] if b["bucket"] == "6")
    assert six["r_ci"] is None and six["r_bucket_ci"] is None
    assert not six["out_of_band"] and not six["parity_flag"] and six["out_of_band_point"] is None
    assert "fewer than 10" in six["note"]
    assert any("bucket(s) 6" in n for n in objects["axis"]["notes"])
    assert "6" not in sens["baseline"]["parity_flagged"].split()
    assert sens["baseline"]["verdict"] == objects["axis"]["verdict"]
    changes = sens["verdict_changes"]
    assert changes and all(r["verdict"] in ("attenuated", "not_attenuated", "inconclusive") for r in changes)
    assert all(
        r["verdict"] != sens["baseline"]["verdict"] for r in changes if r["sweep"] != "label noise (stress test)"
    )
