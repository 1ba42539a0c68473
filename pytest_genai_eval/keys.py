"""Stash keys: where the plugin keeps its state on pytest objects (no private attributes)."""

from __future__ import annotations

import pytest

from .engine import RowJob
from .session import GenAISession

SESSION_KEY = pytest.StashKey[GenAISession]()
JOB_KEY = pytest.StashKey[RowJob]()
