"""The crosswalk: one row per distinct label, every rater's columns, one decided code.

:mod:`coder.crosswalk.assemble` builds it from rater results, :mod:`coder.crosswalk.decide`
computes the final columns from the stored ones, :mod:`coder.crosswalk.store` reads and writes it.
"""
