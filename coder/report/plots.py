"""Matplotlib figures of the report, returned as base64 PNG (Korean labels via koreanize-matplotlib's NanumGothic)."""

from __future__ import annotations

import base64
import io

import numpy as np

__all__ = ["agreement_heatmaps", "coverage_bars", "female_share_plot", "noise_plot", "rule_plot", "threshold_plot"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import font_manager

    font = nanum_gothic()
    if font is not None and "NanumGothic" not in {f.name for f in font_manager.fontManager.ttflist}:
        font_manager.fontManager.addfont(str(font))
    if font is not None:
        plt.rcParams["font.family"] = "NanumGothic"
    plt.rcParams["axes.unicode_minus"] = False
    return plt


def nanum_gothic():
    """Path of the NanumGothic TTF (SIL OFL) that koreanize-matplotlib ships, or None.

    Found without importing koreanize_matplotlib (its import warns on recent setuptools).
    """
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("koreanize_matplotlib")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "fonts" / "NanumGothic.ttf"
    return path if path.is_file() else None


def _thousands(axis, nbins: int = 4) -> None:
    """Readable count ticks: at most ``nbins`` of them, with thousands separators (``300,000``, not ``300000``)."""
    from matplotlib import ticker

    axis.set_major_locator(ticker.MaxNLocator(nbins=nbins, integer=True))
    axis.set_major_formatter(ticker.FuncFormatter(lambda x, _: f"{x:,.0f}"))


def _png(fig) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def coverage_bars(groups: dict[str, dict[str, float]]) -> str:
    """One horizontal bar chart of persons per group (source, level, bucket)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(groups), figsize=(4.2 * len(groups), 3.6))
    for ax, (title, values) in zip(np.atleast_1d(axes), groups.items(), strict=True):
        keys = list(values)
        ax.barh(keys, [values[k] for k in keys], color="#4c72b0")
        ax.invert_yaxis()
        ax.set_title(title)
        ax.set_xlabel("persons")
        _thousands(ax.xaxis, nbins=3)
        ax.tick_params(axis="x", labelsize=8)
    fig.tight_layout()
    return _png(fig)


def agreement_heatmaps(matrices: dict[int, object], title: str) -> str:
    """κ heatmaps, one panel per KSCO level (rater × rater)."""
    plt = _plt()
    n = len(matrices)
    fig, axes = plt.subplots(1, n, figsize=(3.1 * n, 3.4))
    for ax, (level, m) in zip(np.atleast_1d(axes), matrices.items(), strict=True):
        values = m.to_numpy(float)
        ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(m.columns)), m.columns, rotation=60, fontsize=7)
        ax.set_yticks(range(len(m.index)), m.index, fontsize=7)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                txt = "—" if not np.isfinite(values[i, j]) else f"{values[i, j]:.2f}"
                ax.text(
                    j, i, txt, ha="center", va="center", fontsize=6, color="white" if values[i, j] < 0.6 else "black"
                )
        ax.set_title(f"level {level}")
    fig.suptitle(title)
    fig.tight_layout()
    return _png(fig)


def female_share_plot(series: dict[str, dict]) -> str:
    """Female share per bucket: each mapping's data (with 95 % interval) against the reference."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(11, 4.2))
    names = list(series)
    width = 0.8 / (len(names) + 1)
    first = series[names[0]]
    x = np.arange(len(first["buckets"]))
    ax.bar(x - 0.4 + width / 2, first["ref"], width, color="#999999", label="KOSIS reference")
    for k, name in enumerate(names, start=1):
        s = series[name]
        share = np.array(s["share"], dtype=float)
        lo = np.array(s["lo"], dtype=float)
        hi = np.array(s["hi"], dtype=float)
        pos = x - 0.4 + width / 2 + k * width
        ax.bar(pos, share, width, label=name)
        err = np.vstack([np.clip(share - lo, 0, None), np.clip(hi - share, 0, None)])
        ax.errorbar(pos, share, yerr=np.nan_to_num(err), fmt="none", ecolor="black", capsize=2, lw=0.8)
    ax.set_xticks(
        x,
        [f"{b} {t}" for b, t in zip(first["buckets"], first["titles"], strict=True)],
        rotation=25,
        ha="right",
        fontsize=8,
    )
    ax.set_ylabel("female share")
    ax.set_ylim(0, 1)
    ax.axhline(0.5, color="#cccccc", lw=0.6)
    ax.legend(fontsize=8)
    ax.set_title("여성 비율: 데이터 vs 참조 (female share per KSCO major bucket)")
    fig.tight_layout()
    return _png(fig)


def noise_plot(noise_rho: dict[str, dict[float, list[float]]], rho_base: dict[str, float]) -> str:
    """Box plots of ρ over the noise replicates, per mapping and noise level."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 3.8))
    data, labels = [], []
    for name, levels in noise_rho.items():
        short = name.replace("npk_published_", "published ").replace("_mapping", "").replace("_imputed", " (imputed)")
        for p, values in levels.items():
            data.append(values)
            labels.append(f"{short}, p={float(p):g}")
    ax.boxplot(data)
    ax.set_xticks(range(1, len(labels) + 1), labels, fontsize=7, rotation=30, ha="right")
    for base in rho_base.values():
        ax.axhline(base, lw=0.6, ls="--", color="#888888")
    ax.set_ylabel("ρ = V_data / V_ref")
    ax.set_title("label noise: ρ over replicates (dashed: no noise)")
    fig.tight_layout()
    return _png(fig)


def rule_plot(rules, top: int = 25) -> str:
    """Δρ of the rules whose removal moves ρ most."""
    plt = _plt()
    head = rules.head(top)
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.22 * len(head) + 1)))
    ax.barh(head["rule_id"].astype(str), head["delta_rho"], color="#dd8452")
    ax.invert_yaxis()
    ax.set_xlabel("Δρ when the rule is left out")
    ax.set_title(f"leave one rule out: the {len(head)} rules with the largest |Δρ|")
    fig.tight_layout()
    return _png(fig)


def threshold_plot(grid) -> str:
    """ρ over the model × fuzzy threshold grid."""
    plt = _plt()
    pivot = grid.pivot(index="model_threshold", columns="fuzzy_threshold", values="rho")
    fig, ax = plt.subplots(figsize=(6, 3.8))
    im = ax.imshow(pivot.to_numpy(float), cmap="magma", aspect="auto")
    ax.set_xticks(range(len(pivot.columns)), [f"{c:g}" for c in pivot.columns])
    ax.set_yticks(range(len(pivot.index)), [f"{c:g}" for c in pivot.index])
    ax.set_xlabel("fuzzy threshold")
    ax.set_ylabel("model threshold")
    for i in range(pivot.shape[0]):
        for j in range(pivot.shape[1]):
            ax.text(j, i, f"{pivot.iat[i, j]:.4f}", ha="center", va="center", fontsize=7, color="white")
    fig.colorbar(im, ax=ax, label="ρ")
    ax.set_title("threshold grid: ρ")
    fig.tight_layout()
    return _png(fig)
