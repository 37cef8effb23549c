"""A crosswalk applied to a partitioned dataset on Dask's local scheduler (the README recipe).

The distinct labels are collected on the partitions (``value_counts``), coded once here
(:func:`coder.pipeline.code_labels`), and the crosswalk is joined to every partition with the
pure :func:`coder.pipeline.apply_crosswalk` (``map_partitions``, the crosswalk broadcast).
Skipped when Dask is not installed (``pip install 'ksco-coder[dask]'``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
dask = pytest.importorskip("dask")

# several spellings of one key (청소원), empty and missing labels, a label no rater knows
TEXTS = ["간호사", "청소원", "청소 원", " 청소원 ", "", None, "경비원", "간효사", "무직", "zzqx 없는 말", "택시 기사"]


def _frame(n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(22)
    p = np.arange(1, len(TEXTS) + 1, dtype=float)[::-1]  # distinct shares: no spelling ties
    occ = [TEXTS[i] for i in rng.choice(len(TEXTS), size=n, p=p / p.sum())]
    return pd.DataFrame(
        {
            "row_id": np.arange(n, dtype=np.int64),
            "occupation": pd.Series(occ, dtype=object),
            "w": rng.uniform(0.5, 3.0, size=n).round(3),
            "region": rng.choice(["서울", "부산", "제주"], size=n).astype(object),
        }
    )


@pytest.fixture
def partitioned(tmp_path):
    frame = _frame()
    folder = tmp_path / "persons"
    folder.mkdir()
    for i, a in enumerate(range(0, len(frame), 37)):  # six partition files
        frame.iloc[a : a + 37].to_parquet(folder / f"part-{i}.parquet", index=False)
    return frame, folder


def test_labels_collected_on_the_partitions_give_the_crosswalk_of_the_rows(partitioned):
    from coder.labels import tabulate_labels
    from coder.pipeline import code_labels

    frame, folder = partitioned
    with dask.config.set({"scheduler": "synchronous", "dataframe.convert-string": False}):
        ddf = dd.read_parquet(folder)
        assert ddf.npartitions == 6
        # distinct labels with their rows and weight sums, computed on the partitions
        counts = ddf.groupby("occupation", dropna=False)["w"].agg(["size", "sum"]).compute()
    texts = pd.Series(counts.index, dtype=object)
    labels = tabulate_labels(texts, counts["sum"].reset_index(drop=True), counts=counts["size"].to_numpy())
    one_pass = tabulate_labels(frame["occupation"], frame["w"])
    pd.testing.assert_frame_equal(labels.frame, one_pass.frame, check_exact=False, rtol=1e-12)
    assert labels.frame["n_rows"].sum() == len(frame) and "" in set(labels.frame["label_key"])
    pd.testing.assert_frame_equal(code_labels(labels), code_labels(one_pass), check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("scheduler", ["synchronous", "threads"])
def test_a_crosswalk_applied_with_map_partitions_equals_the_one_pass_coding(partitioned, scheduler):
    from coder.labels import tabulate_labels
    from coder.pipeline import OUTPUT_COLUMNS, apply_crosswalk, code_frame, code_labels

    frame, folder = partitioned
    with dask.config.set({"scheduler": scheduler, "dataframe.convert-string": False}):
        ddf = dd.read_parquet(folder)
        texts = ddf["occupation"].drop_duplicates().compute()
        crosswalk = code_labels(tabulate_labels(texts))

        def apply(part: pd.DataFrame, crosswalk: pd.DataFrame) -> pd.DataFrame:
            return apply_crosswalk(part, crosswalk, text_col="occupation").rows

        meta = apply(ddf._meta, crosswalk)
        coded = ddf.map_partitions(apply, crosswalk=dask.delayed(crosswalk), meta=meta).compute()
    one_pass = code_frame(frame, text_col="occupation").rows
    # each partition's categoricals have that partition's categories, and Dask may read text as
    # pandas strings: compare the values
    text = ["occupation", "region"] + [c for c in OUTPUT_COLUMNS if c != "ksco_level"]
    got, want = coded.reset_index(drop=True), one_pass.copy()
    for col in text:
        got[col] = [None if pd.isna(x) else x for x in got[col].astype(object)]
        want[col] = [None if pd.isna(x) else x for x in want[col].astype(object)]
    pd.testing.assert_frame_equal(got, want)
    assert list(got.columns) == [*frame.columns, *OUTPUT_COLUMNS]
    assert got["row_id"].tolist() == list(range(len(frame)))  # every row, in order
    assert (got["ksco_code"] != "").sum() > len(frame) // 2
    assert set(got.loc[got["occupation"].isna(), "code_status"]) == {"unknown"}
