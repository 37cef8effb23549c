"""CLI: coder agree, sensitivity, report and the full demo, end to end on real labels (offline)."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from coder.cli import cli

LABELS = [
    "건물 청소원",
    "택시 기사",
    "간호사",
    "초등학교 교사",
    "아파트 경비원",
    "소프트웨어 개발자",
    "편의점 판매원",
    "전직 건물 경비원, 현재 구직중",
    "육군 장교",
    "무직",
    "요양보호사",
    "한식 조리사",
]


def _run(args):
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result


def _on_rows(command, xw, rows, out, *extra, sex_col="sex"):
    """``coder <command> XWALK ROWS --sex-col S --text-col occupation -o OUT …`` (the sweep commands)."""
    return _run([command, str(xw), str(rows), "--sex-col", sex_col, "--text-col", "occupation", "-o", str(out), *extra])


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """Person rows with sex (seeded), coded; returns (folder, rows path, crosswalk path)."""
    d = tmp_path_factory.mktemp("report")
    rng = np.random.default_rng(7)
    n = 1_200
    occ = rng.choice(LABELS, size=n)
    female = np.where(np.isin(occ, ["간호사", "요양보호사", "초등학교 교사"]), 0.85, 0.3)
    sex = np.where(rng.random(n) < female, "여자", "남자")
    rows = pd.DataFrame({"id": range(n), "occupation": occ, "sex": sex})
    rows_path = d / "rows.csv"
    rows.to_csv(rows_path, index=False)
    xw = d / "xwalk.csv"
    res = _run(
        ["code", str(rows_path), "--text-col", "occupation", "-o", str(d / "coded.csv"), "--crosswalk", str(xw), "-q"]
    )
    assert res.exit_code == 0, res.output
    return d, rows_path, xw


def test_agree_cli_writes_every_table_with_sidecars(coded, tmp_path):
    _d, _, xw = coded
    out = tmp_path / "agr"
    res = _run(["agree", str(xw), "-o", str(out), "--bootstrap", "20", "--levels", "1,2"])
    assert res.exit_code == 0, res.output
    for name in ("agreement_pairs.csv", "agreement_levels.csv", "agreement_coverage.csv", "agreement.json"):
        assert (out / name).is_file() and (out / f"{name}.meta.json").is_file()
    levels = pd.read_csv(out / "agreement_levels.csv")
    assert sorted(levels["level"]) == [1, 2]
    assert "agreement between" in res.stderr


@pytest.mark.parametrize(
    ("levels", "message"),
    [("0-3", "KSCO levels are 1–5"), ("x", "give levels 1–5"), (",", "give at least one level")],
)
def test_agree_cli_rejects_bad_levels(coded, tmp_path, levels, message):
    _, _, xw = coded
    res = _run(["agree", str(xw), "-o", str(tmp_path / "a"), "--levels", levels])
    assert res.exit_code == 2 and message in res.output
    assert not (tmp_path / "a").exists()


def test_sensitivity_cli_runs_every_sweep_on_person_rows(coded, tmp_path):
    _, rows, xw = coded
    out = tmp_path / "sens"
    res = _on_rows(
        "sensitivity",
        xw,
        rows,
        str(out),
        "--replicates",
        "5",
        "--noise",
        "0.01,0.1",
        "--model-thresholds",
        "0.6,0.9",
        "--fuzzy-thresholds",
        "0.9",
    )
    assert res.exit_code == 0, res.output
    for name in ("noise.csv", "rules.csv", "raters.csv", "thresholds.csv", "mappings.csv", "sensitivity.json"):
        assert (out / name).is_file(), name
    noise = pd.read_csv(out / "noise.csv")
    assert sorted(set(noise["p"])) == [0.01, 0.1]
    data = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    # every person row is counted once in the baseline table (무직 and the job-seeker are outside the frame)
    assert sum(map(sum, data["baseline"]["table"])) <= 1_200
    assert "baseline" in res.stderr and "IMPUTED" not in res.stderr


def test_sensitivity_cli_errors_name_the_fix(coded, tmp_path):
    _, rows, xw = coded
    res = _on_rows("sensitivity", xw, rows, str(tmp_path / "s"), sex_col="gender")
    assert res.exit_code != 0
    assert "no column 'gender' for --sex-col" in res.output
    res = _on_rows("sensitivity", xw, rows, str(tmp_path / "s"), "--noise", "2")
    assert res.exit_code == 2 and "give shares in [0, 1]" in res.output
    assert not (tmp_path / "s").exists()


def test_report_cli_with_and_without_rows(coded, tmp_path):
    _, rows, xw = coded
    bare = tmp_path / "bare.html"
    res = _run(["report", str(xw), "-o", str(bare), "--bootstrap", "20"])
    assert res.exit_code == 0, res.output
    data = json.loads(bare.with_suffix(".json").read_text(encoding="utf-8"))
    assert "agreement" in data and "coverage" in data
    assert any("no rows with sex" in n for n in data["notes"])
    full = tmp_path / "full.html"
    res = _on_rows("report", xw, rows, str(full), "--bootstrap", "20", "--replicates", "5", "--rules", "npk-audit-2026")
    assert res.exit_code == 0, res.output
    text = full.read_text(encoding="utf-8")
    assert "<html" in text and "data:image/png;base64," in text
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text
    data = json.loads(full.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["provenance"]["inputs"]["rows"]["rows"] == 1_200
    assert data["provenance"]["inputs"]["consistency_rules"]["path"].endswith("consistency_npk_audit_2026.toml")
    assert "sweeps" in res.stderr  # one progress line per step
    assert "<code>full_coverage.csv</code>" in text and (tmp_path / "full_coverage.csv").is_file()
    summary = pd.read_csv(tmp_path / "full_axis_summary.csv", encoding="utf-8-sig")
    ax = data["axis"]["decided"]["axis"]
    assert summary["rho_total_lo"].iloc[0] == pytest.approx(ax["rho_ci_total"][0])
    assert summary["rho_coding_hi"].iloc[0] == pytest.approx(ax["rho_ci_coding"][1])
    assert summary["respondents"].iloc[0] == ax["n_respondents"] > 0
    assert "ρ total 97.5%" in text.split("ρ and verdict per mapping")[1].split("</table>")[0]  # shown, not collapsed


def test_report_cli_refuses_bad_paths_and_writes_nothing(coded, tmp_path):
    _, rows, xw = coded
    res = _run(["report", str(xw), "-o", str(tmp_path / "r.txt")])
    assert res.exit_code != 0 and "give a path ending in .html" in res.output
    res = _run(["report", str(xw), "--sex-col", "sex", "-o", str(tmp_path / "r.html")])
    assert res.exit_code == 2 and "--sex-col needs ROWS" in res.output
    res = _run(["report", str(xw), str(rows), "-o", str(tmp_path / "r.html")])
    assert res.exit_code != 0 and "--sex-col" in res.output
    res = _on_rows("report", xw, rows, str(tmp_path / "r.html"), "--rules", "nope")
    assert res.exit_code != 0 and "no such consistency rules file" in res.output
    assert list(tmp_path.iterdir()) == []


def test_demo_on_a_users_file_and_its_guards(coded, tmp_path):
    _, rows, _ = coded
    res = _run(["demo", "--text-col", "occupation", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "go with --input FILE" in res.output
    res = _run(["demo", "--input", str(rows), "--text-col", "occupation", "-o", str(tmp_path / "x")])
    assert res.exit_code == 2 and "--input needs --text-col and --sex-col" in res.output
    out = tmp_path / "mine"
    res = _run(
        [
            "demo",
            "--input",
            str(rows),
            "--text-col",
            "occupation",
            "--sex-col",
            "sex",
            "--output",
            str(out),
            "--replicates",
            "5",
            "--bootstrap",
            "20",
        ]
    )
    assert res.exit_code == 0, res.output
    coded_rows = pd.read_csv(out / "coded.csv", dtype=str)
    assert coded_rows["id"].tolist() == [str(i) for i in range(1_200)]  # every row, in order
    data = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "decided" in data["axis"]
    assert not any("IMPUTED" in n for n in data["notes"])
    assert f"report: {out / 'report.html'}" in res.stderr


class _Sections(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.images, self.headings, self._h = [], [], [], False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.ids.append(a["id"])
        if tag == "img":
            self.images.append(a.get("src", ""))
        self._h = tag == "h2"

    def handle_data(self, data):
        if self._h and data.strip():
            self.headings.append(data.strip())
            self._h = False


def test_report_html_has_every_section_and_its_images(coded, tmp_path):
    from coder.report import SECTIONS

    _, rows, xw = coded
    out = tmp_path / "r.html"
    res = _on_rows("report", xw, rows, str(out), "-q", "--bootstrap", "20", "--replicates", "5")
    assert res.exit_code == 0, res.output
    parser = _Sections()
    parser.feed(out.read_text(encoding="utf-8"))
    assert [t for _, t in SECTIONS] == [h for h in parser.headings if h in dict((t, k) for k, t in SECTIONS)]
    for key, _ in SECTIONS:
        assert key in parser.ids, key
    assert len(parser.images) >= 4 and all(src.startswith("data:image/png;base64,") for src in parser.images)
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert {"coverage", "agreement", "axis", "sensitivity", "provenance"} <= set(data)


# --- the first section and the tables (issue 20 item 4) ---------------------------------------------

XW = pd.DataFrame(
    {
        "label_key": ["경비원", "무직", "간호사", "알수없음"],
        "weight": [2822.5, 1000.0, 500.0, 10.0],
        "ksco_code": ["94212", "", "24411", ""],
        "ksco_level": [5, 0, 5, 0],
        "ksco_major": ["9", "0", "2", ""],
        "code_source": ["title", "status", "title", ""],
    }
)


def _axis(verdict, rho, ci, coding=None, total=None, **more):
    return {
        "axis": {
            "rho": rho,
            "rho_ci": ci,
            "rho_ci_coding": coding,
            "rho_ci_total": total,
            "verdict": verdict,
            "tau": 0.7,
            "n_respondents": 166,
            "persons_weighted": 390_123.4,
            "n_effective": 81.26,
            "weighted": True,
            **more,
        }
    }


@pytest.mark.parametrize(
    ("verdict", "rho", "ci", "words"),
    [
        (
            "attenuated",
            0.52,
            [0.48, 0.56],
            "attenuated: the 95% interval (coding and sampling) lies wholly below τ = 0.7",
        ),
        (
            "not_attenuated",
            0.81,
            [0.75, 0.88],
            "not attenuated: the 95% interval (coding and sampling) lies wholly at or above τ = 0.7",
        ),
        ("inconclusive", 0.69, [0.55, 0.83], "inconclusive: the 95% interval (coding and sampling) contains τ = 0.7"),
    ],
)
def test_first_section_states_each_verdict_with_every_interval(verdict, rho, ci, words):
    from coder.report.findings import findings

    sentences = findings(XW, axis={"decided": _axis(verdict, rho, [0.1, 0.9], [0.2, 0.8], ci)})
    first = sentences[0]
    assert first.startswith(f"Mapping decided: the data keeps ρ = {rho:.3f}") and words in first
    assert "sampling [0.100, 0.900] (rho_ci)" in first and "coding [0.200, 0.800] (rho_ci_coding)" in first
    assert f"coding and sampling [{ci[0]:.3f}, {ci[1]:.3f}] (rho_ci_total" in first
    assert sentences[1] == (
        "The comparison frame holds 166 respondents standing for 390,123 weighted persons, Kish effective sample size 81."
    )
    assert sentences[2].startswith("Coverage: 4 distinct labels, 4,332 persons; 3,322 (76.7%) have a KSCO code")
    assert "1,000 (23.1%) are not employed (bucket 0: 무직, students, homemakers, retired)" in sentences[2]
    assert sentences[3].startswith("Residual coding error: not measured")
    assert sentences[4].startswith("What changes the verdict was not measured")


def test_a_mapping_on_an_imputed_table_is_said_not_to_be_a_finding():
    from coder.report.findings import findings

    axes = {
        "decided_imputed": _axis("attenuated", 0.17, [0.1, 0.2], [0.1, 0.2], [0.1, 0.2]),
        "decided": _axis("attenuated", 0.17, [0.1, 0.2], [0.1, 0.2], [0.1, 0.2]),
    }
    imputed, _, real, *_ = findings(XW, axis=axes)
    assert imputed.endswith(
        "is measured on an IMPUTED label × sex table (see the caveats): it shows how the "
        "measurement works and is not a finding about the data."
    )
    assert "IMPUTED" not in real


def test_first_section_without_coding_interval_says_not_computed():
    from coder.report.findings import findings

    (first, *_) = findings(XW, axis={"m": {"rho": 0.6, "rho_ci": [0.5, 0.65], "verdict": "attenuated", "n_persons": 9}})
    assert "(sampling only) lies wholly below" in first and "coding not computed (rho_ci_coding)" in first


class _Sweeps:
    """The sweep tables of a sensitivity result, as :func:`verdict_changes` reads them."""

    def __init__(self, **tables):
        self.rules = tables.get(
            "rules",
            pd.DataFrame({"rule_id": ["R1"], "rho": [0.6], "verdict": ["attenuated"], "verdict_changed": [False]}),
        )
        self.raters = tables.get(
            "raters",
            pd.DataFrame({"rater": ["rule"], "rho": [0.6], "verdict": ["attenuated"], "verdict_changed": [False]}),
        )
        self.thresholds = pd.DataFrame(
            {
                "model_threshold": [0.9],
                "fuzzy_threshold": [0.95],
                "rho": [0.6],
                "verdict": ["attenuated"],
                "verdict_changed": [False],
            }
        )
        self.mappings = pd.DataFrame(
            {"mapping": ["decided"], "kind": ["decided"], "rho": [0.6], "verdict": ["attenuated"]}
        )
        self.noise = pd.DataFrame({"mapping": ["decided"], "p": [0.1], "verdict_unchanged": [1.0]})
        self.baseline = {"rho": 0.6, "verdict": "attenuated"}
        self.settings = {}
        self.changes = tables.get("changes")

    def to_dict(self):
        return {} if self.changes is None else {"verdict_changes": self.changes}


def test_what_changes_the_verdict_from_the_sweeps_or_from_the_contract():
    from coder.report.findings import findings, verdict_changes

    quiet = findings(XW, axis={}, sensitivity=_Sweeps())
    assert quiet[-2] == (
        "The sweeps re-decide the crosswalk (baseline ρ = 0.600, attenuated): nothing changes the verdict — not one of "
        "the 1 rules left out one at a time, 1 raters left out, 1 threshold pairs and 0 other mappings."
    )
    flips = _Sweeps(
        raters=pd.DataFrame(
            {
                "rater": ["rule", "title"],
                "rho": [0.75, 0.6],
                "verdict": ["not_attenuated", "attenuated"],
                "verdict_changed": [True, False],
            }
        )
    )
    assert verdict_changes(flips) == [
        {"sweep": "leave one rater out", "what": "rule", "verdict": "not_attenuated", "rho": 0.75}
    ]
    assert (
        "these change the verdict: leave one rater out rule → not attenuated (ρ = 0.750)."
        in findings(XW, axis={}, sensitivity=flips)[-2]
    )
    given = [{"sweep": "threshold", "what": "model 0.5", "verdict": "inconclusive", "rho": 0.7}]
    assert verdict_changes(_Sweeps(changes=given)) == given
    # a noise flip stays in verdict_changes (JSON) but the sentence on rules, raters and thresholds leaves it to
    # the stress-test sentence
    noisy = [{"sweep": "label noise (stress test)", "what": "decided p = 0.05", "verdict": "inconclusive", "rho": 0.6}]
    assert verdict_changes(_Sweeps(changes=noisy)) == noisy
    assert "nothing changes the verdict" in findings(XW, axis={}, sensitivity=_Sweeps(changes=noisy))[-2]


def test_tables_for_people_counts_names_details():
    from coder.report.build import _table

    small = _table(pd.DataFrame({"rater": ["rule"], "persons_code_changed": [2822.5], "delta_rho": [0.01234]}))
    assert ">2,822<" in small and "2822.5" not in small and "persons whose code changed" in small
    assert "persons_code_changed" not in small and "<details>" not in small and ">0.0123<" in small
    wide = pd.DataFrame({f"c{i}": [i * 1000] for i in range(12)})
    out = _table(wide, name="rules", caption="Every rule")
    assert (
        out.startswith("<details><summary>Every rule: 1 rows × 12 columns") and "<code>report_rules.csv</code>" in out
    )
    named = _table(wide, name="rules", caption="Every rule", stem="audit-2026")
    assert "<code>audit-2026_rules.csv</code>" in named and "*" not in named.split("</summary>")[0]
    assert ">11,000<" in out
    long = _table(pd.DataFrame({"labels": range(30)}), name="x", caption="Long")
    assert long.startswith("<details>")


def test_bucket_zero_named_for_what_it_holds_and_hangul_font_embedded(tmp_path):
    from coder.report import build_report

    rep = build_report(XW, title="t")
    assert "0 not employed (무직·학생·주부·은퇴)" in rep.data["coverage"]["persons by bucket"]
    assert "@font-face{font-family:'NanumGothic'" in rep.html and "font/ttf;base64," in rep.html
    assert rep.data["findings"][0] == "The sex × KSCO axis was not measured: no rows with sex were given."
    import base64
    import io
    import re

    from fontTools.ttLib import TTFont

    with_prov = build_report(XW, provenance={"inputs": {"rows": {"path": "설문_직업.csv"}}})
    font = re.search(r"font/ttf;base64,([A-Za-z0-9+/=]+)", with_prov.html).group(1)
    cmap = TTFont(io.BytesIO(base64.b64decode(font))).getBestCmap()
    assert all(
        ord(ch) in cmap for ch in "설문직업무학생주부은퇴Rs0,"
    )  # provenance Hangul and ASCII from the page's font
    assert "pre,code{font-family:" in with_prov.html and "'NanumGothic'}" in with_prov.html
    assert "<p class='finding'>" in rep.html.split("id='notes'")[0]  # the findings come first


def test_report_shows_the_residual_error_of_an_audited_crosswalk(coded, tmp_path):
    from coder.crosswalk.stage import Output, write_outputs
    from coder.crosswalk.store import read_crosswalk
    from coder.review import export_review, import_review
    from coder.review_audit import machine_codes

    _, _, xw = coded
    crosswalk = read_crosswalk(xw)
    ex = export_review(crosswalk, batch="a1", limit=0, audit=10, seed=3)
    sheet = ex.frame.copy()
    machine = dict(zip(crosswalk.frame["label_key"], machine_codes(crosswalk.frame)))
    sheet["decision_code"] = [machine[k] for k in sheet["label_key"]]
    sheet.loc[0, "decision_code"] = "0"  # one label judged not employed: wrong at level 1
    audited = import_review(sheet, crosswalk).crosswalk
    path = tmp_path / "audited.csv"
    write_outputs(
        [Output(path, audited)], {"params": {"policy": audited.policy.as_dict()}, "audit": list(audited.audit)}
    )
    out = tmp_path / "r.html"
    res = _run(["report", str(path), "-o", str(out), "--bootstrap", "10"])
    assert res.exit_code == 0, res.output
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    n_wrong = ex.audit.draws[sheet["label_key"].iloc[0]]
    (sentence,) = [s for s in data["findings"] if s.startswith("Residual coding error")]
    assert "a blind audit of 10 draws (batch a1" in sentence and f"found {n_wrong} wrong at level 1" in sentence
    assert f"level 1: {100 * n_wrong / 10:.1f}%" in sentence
    assert data["audit"][0]["levels"][0]["wrong"] == n_wrong
    levels = pd.read_csv(tmp_path / "r_audit_levels.csv", encoding="utf-8-sig")
    assert levels["wrong"].iloc[0] == n_wrong and (tmp_path / "r_audit_wrong_labels.csv").is_file()
    assert "Labels the reviewer coded otherwise" in out.read_text(encoding="utf-8")
