"""Labels rated, assembled and decided in batches (issue 22): the crosswalk of the batched run is the
one-pass crosswalk, column for column and dtype for dtype, and the assembly of any run of labels is
that run of the whole assembly."""

from __future__ import annotations

import pandas as pd
import pytest

import coder.pipeline as pipeline
from coder.crosswalk.assemble import Assembler, RatedColumns, assemble_crosswalk
from coder.demo import DEMO_DATA
from coder.labels import tabulate_labels
from coder.raters.base import RaterResult
from coder.status import parse_status


@pytest.fixture(scope="module")
def labels():
    npk = pd.read_csv(DEMO_DATA, dtype={"occupation": str}, keep_default_na=False)["occupation"].tolist()
    extra = ["", "무직", "전직 간호사, 현재 구직중", "은퇴한 교사", "간효사", "대학병원 간호사 (계약직)", "NaN"]
    return tabulate_labels(pd.Series(npk[::3] + extra, dtype=object))


def test_batched_rating_assembly_and_decision_give_the_one_pass_crosswalk(labels, monkeypatch):
    one = pipeline.code_labels(labels)
    monkeypatch.setattr(pipeline, "RATE_BATCH", 97)  # many batches, the last one short
    monkeypatch.setattr(pipeline, "DECIDE_BATCH", 61)
    batched = pipeline.code_labels(labels)
    pd.testing.assert_frame_equal(batched, one, check_exact=True)
    assert isinstance(batched.index, pd.RangeIndex)
    assert (one["ksco_code"] != "").sum() > 300 and one["needs_review"].any()


def _rater(name: str, keys: list[str]) -> RaterResult:
    n = len(keys)
    return RaterResult(
        name,
        tuple(keys),
        tuple("2" if i % 3 else "" for i in range(n)),
        tuple(0.5 if i % 2 else None for i in range(n)),
        tuple("" if i % 4 else "why" for i in range(n)),
        extra={"n_entries": tuple(i % 5 for i in range(n)), "final_ok": tuple(i % 2 == 0 for i in range(n))},
        flags=tuple(("ambiguous",) if i % 7 == 0 else () for i in range(n)),
        candidates=tuple((("2", 0.5), ("3", 0.25)) if i % 2 else () for i in range(n)),
    )


def test_assembly_of_a_run_of_labels_is_that_run_of_the_whole(labels):
    statuses = parse_status(labels.keys)
    core = sorted({s.core_key for s in statuses if s.core_key})
    results = [_rater("title", core[::2]), _rater("index", core)]
    whole = assemble_crosswalk(labels, statuses, results)
    halves = [RatedColumns.of(_rater("index", core[:100])), RatedColumns.of(_rater("index", core[100:]))]
    joined = RatedColumns.concat(halves)
    assert list(joined.keys) == core
    stored = Assembler(labels, statuses, [RatedColumns.of(results[0]), RatedColumns.of(_rater("index", core))])
    pd.testing.assert_frame_equal(stored.frame(), whole, check_exact=True)
    parts = pd.concat([stored.frame(a, a + 50) for a in range(0, len(stored), 50)])
    pd.testing.assert_frame_equal(parts, whole, check_exact=True, check_index_type=False)
    assert whole["title_score"].isna().sum() > 0 and whole["index_n_entries"].dtype == "int64"


def _survey(tmp_path, weights: str = "1") -> object:
    src = tmp_path / "in.csv"
    labels = ["간호사", "초등학교 교사", "전직 집행관, 현재 구직중", "asdf", "", "무직", "택시 운전", "간호사"]
    src.write_text("pid,job,wt\n" + "".join(f'p{i},"{t}",{weights}\n' for i, t in enumerate(labels)), encoding="utf-8")
    return src


def test_coding_while_the_model_loads_gives_the_crosswalk_of_a_loaded_setup(tmp_path):
    """code_file starts the status pass and the other raters while the model loads (the model rater waits for
    it on its thread): its crosswalk is the one of code_frame, which waits for the whole setup first."""
    src = _survey(tmp_path)
    result = pipeline.code_file(src, tmp_path / "out.csv", text_col="job", weight_col="wt")
    held = pipeline.code_frame(pd.read_csv(src, dtype=str, keep_default_na=False), text_col="job", weight_col="wt")
    pd.testing.assert_frame_equal(result.crosswalk, held.crosswalk)
    assert result.params == held.params and result.files == held.files
    assert result.files["model/jobdict_model.npz"]


def test_a_model_that_fails_to_load_stops_the_run_and_writes_nothing(tmp_path):
    """The model loads while the coding starts: its error still ends the run, before any output, and before a
    weight error found meanwhile (a setup error comes first)."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "jobdict_model.json").write_text("not json", encoding="utf-8")
    out = tmp_path / "out.csv"
    out.write_text("earlier output\n", encoding="utf-8")
    for weights in ("1", "x"):
        with pytest.raises(pipeline.CrosswalkError, match="model metadata is not valid JSON"):
            pipeline.code_file(
                _survey(tmp_path, weights), out, text_col="job", weight_col="wt", model=tmp_path / "model"
            )
        assert out.read_text(encoding="utf-8") == "earlier output\n"
    none = pipeline.code_file(_survey(tmp_path), tmp_path / "none.csv", text_col="job", model=False)
    assert "model" not in none.crosswalk.columns.str.split("_").str[0].tolist()
    assert not any(f.startswith("model/") for f in none.files)
