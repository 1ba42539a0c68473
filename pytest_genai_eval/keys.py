"""Stash keys: where the plugin keeps its state on pytest objects (no private attributes)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .engine import RowJob
    from .session import GenAISession

SESSION_KEY = pytest.StashKey["GenAISession"]()
JOB_KEY = pytest.StashKey["RowJob"]()
