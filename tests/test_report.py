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
