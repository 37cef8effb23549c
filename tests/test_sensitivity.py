"""Sensitivity sweeps: noise on aggregated tables, spliced re-decisions equal full ones, file twin."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from coder.axis.metrics import measure_axis, tabulate_axis
from coder.axis.references import KSCO_MAJORS, load_reference
from coder.errors import InputError
from coder.sensitivity import (
    axis_point,
    impute_label_sex,
    label_sex_table,
    noise_test,
    rule_masks,
    run_sensitivity,
    sensitivity_file,
)

TABLE = np.array(
    [
        [6000, 9000],
        [60000, 80000],
        [62000, 70000],
        [27000, 32000],
        [21000, 25000],
        [125, 174],
        [21000, 30000],
        [29000, 44000],
        [46000, 46000],
    ],
    dtype=float,
)


@pytest.fixture(scope="module")
def ref():
    return load_reference("kosis-res:2025H2")


def test_axis_point_matches_measure_axis(ref):
    frame = pd.DataFrame(
        {
            "bucket": [b for b in KSCO_MAJORS for _ in (0, 1)],
            "sex": ["여자", "남자"] * 9,
            "n": TABLE.ravel(),
        }
    )
    full = measure_axis(
        tabulate_axis(frame, code_col="bucket", count_col="n"), ref, n_bootstrap=10, n_permutations=10, vintages=False
    )
    point = axis_point(TABLE, ref)
    assert float(point["rho"]) == pytest.approx(full.rho)
    assert point["parity"].tolist() == [bool(b.parity_flag) for b in full.buckets]
    assert point["out_of_band"].tolist() == [bool(b.out_of_band_point) for b in full.buckets]
    assert bool(point["attenuated"]) == full.verdict_attenuated


def test_noise_zero_changes_nothing_and_noise_keeps_sex_totals(ref):
    frame, rhos = noise_test(TABLE, ref, levels=(0.0, 0.1), replicates=20, seed=1)
    zero = frame.iloc[0]
    assert zero["verdict_unchanged"] == 1.0 and zero["parity_count_unchanged"] == 1.0
    assert np.allclose(rhos[0.0], zero["rho_base"])
    # noise attenuates the association: ρ falls below the base in every replicate at p = 10 %
    assert (rhos[0.1] < zero["rho_base"]).all()
    assert list(frame.columns)[:3] == ["p", "replicates", "rho_base"]


def test_noise_moves_persons_within_sex(ref, monkeypatch):
    import coder.sensitivity as sens

    seen = []
    real = sens.axis_point

    def spy(tables, reference, **kw):
        seen.append(np.asarray(tables))
        return real(tables, reference, **kw)

    monkeypatch.setattr(sens, "axis_point", spy)
    noise_test(TABLE, ref, levels=(0.5,), replicates=7, seed=3)
    noisy = seen[-1]
    assert noisy.shape == (7, 9, 2)
    assert np.allclose(noisy.sum(axis=1), TABLE.sum(axis=0))  # women and men totals kept
    assert not np.allclose(noisy, TABLE)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"replicates": 0}, "replicates must be at least 1."),
        ({"levels": (0.1, 1.5)}, "noise level(s) 1.5: a share of persons must lie in [0, 1]."),
    ],
)
def test_noise_errors(ref, kwargs, message):
    with pytest.raises(InputError) as err:
        noise_test(TABLE, ref, **kwargs)
    assert str(err.value) == message


def test_rule_masks_split_cells_and_skip_final_rule_id():
    xw = pd.DataFrame(
        {
            "rule_id": ["R9", "", ""],
            "rule_rule_id": ["R1", "R2", ""],
            "consistency_rule_id": ["C1;C2", "", "C2"],
        }
    )
    masks = rule_masks(xw)
    assert list(masks) == ["C1", "C2", "R1", "R2"]
    assert masks["C2"].tolist() == [True, False, True]
    assert masks["R1"].tolist() == [True, False, False]


def test_label_sex_table_from_rows_and_counts():
    rows = pd.DataFrame({"job": ["간호사", "간호사", "택시 기사", "택시기사"], "sex": ["여자", "F", "남자", "1"]})
    t = label_sex_table(rows, text_col="job", sex_col="sex")
    assert dict(zip(t.label_keys, t.counts.tolist(), strict=True)) == {"간호사": [2.0, 0.0], "택시기사": [0.0, 2.0]}
    agg = pd.DataFrame({"job": ["간호사", "간호사"], "sex": ["여자", "남자"], "n": ["30", "5"]})
    t2 = label_sex_table(agg, text_col="job", sex_col="sex", count_col="n")
    assert t2.counts.tolist() == [[30.0, 5.0]] and not t2.imputed
    with pytest.raises(InputError) as err:
        label_sex_table(rows, text_col="occupation", sex_col="sex")
    assert str(err.value) == (
        "column(s) 'occupation' not in the rows (columns: job, sex) — name the right ones with --text-col/--sex-col/…"
    )


def test_impute_label_sex_marks_imputed():
    labels = pd.DataFrame({"label_key": ["a", "b", "c"], "persons": [10.0, 20.0, 30.0]})
    known = pd.DataFrame({"label_key": ["a"], "women": [7], "men": [3]})
    t = impute_label_sex(labels, known, rest_female_share=0.5, note="flat 50 %")
    assert t.imputed and t.note == "flat 50 %"
    assert t.counts.tolist() == [[7.0, 3.0], [10.0, 10.0], [15.0, 15.0]]
    with pytest.raises(InputError) as err:
        impute_label_sex(labels, known, rest_female_share=1.2)
    assert str(err.value) == "rest_female_share = 1.2: a share must lie in [0, 1]."


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from coder.demo import run_demo

    out = tmp_path_factory.mktemp("sens-demo")
    result = run_demo(out)
    xw = result.crosswalk
    rng = np.random.default_rng(5)
    women = rng.binomial(xw["weight"].astype(int).to_numpy(), 0.5)
    rows = pd.DataFrame(
        {
            "occupation": np.repeat(xw["label"].to_numpy(), 2),
            "sex": ["여자", "남자"] * len(xw),
            "n": np.c_[women, xw["weight"].astype(int).to_numpy() - women].ravel(),
        }
    )
    rows.to_csv(out / "label_sex.csv", index=False)
    return out, xw, label_sex_table(rows, text_col="occupation", sex_col="sex", count_col="n")


def _full_buckets(xw, policy):
    from coder.crosswalk.decide import decide

    return decide(xw, policy)["ksco_major"].tolist()


def test_spliced_leave_one_rule_out_equals_full_redecide(demo, ref):
    from coder.pipeline import make_policy
    from coder.sensitivity import _Sweeper

    _, xw, label_sex = demo
    from coder.codes import load_codes

    policy = make_policy()
    sweep = _Sweeper(xw, label_sex, ref, policy, load_codes(), 0.8, 0.7)
    masks = rule_masks(xw)
    changed = [rid for rid in masks if rid in ("R0003", "R0005")] + list(masks)[:3]
    for rid in changed:
        p = policy.with_(exclude_rules=frozenset({rid}))
        bucket, _ = sweep.redecide(masks[rid], p)
        full = _full_buckets(xw, p)
        assert bucket.tolist() == [KSCO_MAJORS.index(b) if b in KSCO_MAJORS else -1 for b in full], rid


def test_threshold_grid_mask_equals_full_redecide(demo, ref):
    """With title, rule and index left out the model decides; the spliced grid equals a full decide."""
    from coder.codes import load_codes
    from coder.pipeline import make_policy
    from coder.sensitivity import _Sweeper

    _, xw, label_sex = demo
    base = make_policy().with_(exclude_raters=frozenset({"title", "index", "rule"}))
    result = run_sensitivity(
        xw, label_sex, ref, policy=base, model_thresholds=(0.8, 0.9), fuzzy_thresholds=(0.95,), replicates=5
    )
    sweep = _Sweeper(xw, label_sex, ref, base, load_codes(), 0.8, 0.7)
    for row in result.thresholds.itertuples():
        p = base.with_(thresholds={"model": row.model_threshold, "fuzzy": 0.95})
        full = _full_buckets(xw, p)
        table = sweep.tabulate(np.array([KSCO_MAJORS.index(b) if b in KSCO_MAJORS else -1 for b in full]))
        assert row.rho == pytest.approx(float(axis_point(table, ref)["rho"]))
        assert row.labels_redecided > 0
    assert (result.thresholds["labels_changed"] > 0).any()


def test_run_sensitivity_tables(demo, ref):
    _, xw, label_sex = demo
    result = run_sensitivity(xw, label_sex, ref, bucket_tables={"published": TABLE}, replicates=10)
    assert not result.imputed
    assert list(result.noise["mapping"].unique()) == ["decided", "published"]
    assert set(result.rules["rule_id"]) == set(rule_masks(xw))
    # every spliced row accounts for the same persons: nobody is lost
    assert (result.rules["persons_in_frame"] > 0).all()
    assert result.raters["rater"].tolist() == ["title", "rule", "index", "model", "fuzzy"]
    assert (
        result.mappings["mapping"].tolist()[0] == "decided" and result.mappings["mapping"].tolist()[-1] == "published"
    )
    assert "no panel members (panel_<id> columns) in the crosswalk: leave-one-rater-out covers the other raters" in (
        result.notes
    )
    json.dumps(result.to_dict(), allow_nan=False)


def test_sensitivity_file_outputs_and_text_col_error(demo, tmp_path):
    out_demo, _, _ = demo
    with pytest.raises(InputError) as err:
        sensitivity_file(out_demo / "crosswalk.csv", out_demo / "label_sex.csv", tmp_path / "s", sex_col="sex")
    assert str(err.value) == (
        f"{out_demo / 'label_sex.csv'}: which column holds the occupation text? No sidecar label_sex.csv.meta.json "
        "records it — pass --text-col."
    )
    assert not (tmp_path / "s").exists()
    result = sensitivity_file(
        out_demo / "crosswalk.csv",
        out_demo / "label_sex.csv",
        tmp_path / "s",
        sex_col="sex",
        text_col="occupation",
        count_col="n",
        replicates=5,
    )
    doc = json.loads((tmp_path / "s" / "sensitivity.json").read_text(encoding="utf-8"))
    assert doc["provenance"]["inputs"]["rows"]["text_col"] == "occupation"
    assert doc["baseline"]["rho"] == pytest.approx(result.baseline["rho"])
    for name in ("noise.csv", "rules.csv", "raters.csv", "thresholds.csv", "mappings.csv"):
        assert (tmp_path / "s" / name).is_file() and (tmp_path / "s" / f"{name}.meta.json").is_file()
