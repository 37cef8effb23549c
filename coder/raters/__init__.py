"""Raters: every coder answers per label, side by side (see :mod:`coder.raters.base`).

``title`` (exact KSCO-7 title), ``rule`` (rules/mapper.csv), ``index`` (한국직업사전
names), ``model`` (char n-gram model), ``fuzzy`` (shortlist); later ``panel_<id>``.
"""

from .base import RaterResult

__all__ = ["RaterResult"]
