"""Shared fixtures: test hygiene and small data builders."""

from __future__ import annotations

import pandas as pd
import pytest

VENDOR_KEYS = (
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "CLOVASTUDIO_API_KEY",
)


@pytest.fixture(autouse=True)
def _hygiene(tmp_path, monkeypatch):
    """No vendor keys, caches and user dirs under tmp_path."""
    for key in VENDOR_KEYS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("CODER_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(scope="session")
def npk_labels() -> pd.DataFrame:
    """The bundled NPK label table (occupation, count, share) as strings."""
    from coder.demo import DEMO_DATA
    from coder.io import read_table

    return read_table(DEMO_DATA)
