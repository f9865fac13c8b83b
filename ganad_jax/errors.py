"""The library's error type: every failure the user can fix (bad input, a folder that cannot be
used, a corrupt checkpoint) is a `GanadError`, which the command line prints as one line."""

from __future__ import annotations


class GanadError(Exception):
    """A failure caused by the user's input or files, described in one line."""
