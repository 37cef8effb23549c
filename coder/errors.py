"""Errors raised by the toolkit.

Every error the library raises on purpose derives from :class:`CoderError`, so a
caller (and ``coder.cli``, in one place) can catch them all::

    CoderError
    ├── InputError        a table, column or value the user gave is unusable
    ├── RuleError         a rules file (rules/*.csv, *.toml) has bad rows
    ├── CrosswalkError    a code list, crosswalk or reference file is missing or altered
    ├── VendorError       an LLM vendor call failed (attempts, vendor, model)
    │   └── MissingKeyError   no API key in the environment for a vendor
    ├── CacheError        the response cache cannot be read or written
    └── ReviewError       a review CSV was edited in a way that cannot be applied

Messages follow *what — where — how to fix*. Errors carry the context as
attributes (``path``, ``line``, ``rule_id``, ``vendor``, ``attempts``) so that
programs need not parse the text. The library never prints or exits.
"""

from __future__ import annotations

__all__ = [
    "CacheError",
    "CoderError",
    "CrosswalkError",
    "InputError",
    "MissingKeyError",
    "ReviewError",
    "RuleError",
    "VendorError",
]


class CoderError(Exception):
    """Base class of every error the toolkit raises on purpose."""

    def __init__(self, message: str, *, path: object = None, line: int | None = None, **context: object):
        super().__init__(message)
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        for key, value in context.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message


class InputError(CoderError):
    """A table, column or value the user gave cannot be used as it is."""


class RuleError(CoderError):
    """A rules file has one or more bad rows; ``problems`` lists them all."""

    def __init__(self, message: str, *, problems: list[str] | None = None, **context: object):
        super().__init__(message, **context)
        self.problems = list(problems or [])


class CrosswalkError(CoderError):
    """A code list, crosswalk or reference file is missing, altered or inconsistent."""


class VendorError(CoderError):
    """An LLM vendor call failed after ``attempts`` tries."""

    def __init__(self, message: str, *, vendor: str | None = None, attempts: int = 0, **context: object):
        super().__init__(message, **context)
        self.vendor = vendor
        self.attempts = attempts


class MissingKeyError(VendorError):
    """No API key for a vendor in the environment."""


class CacheError(CoderError):
    """The response cache cannot be read or written."""


class ReviewError(CoderError):
    """A review CSV cannot be applied as it stands."""
