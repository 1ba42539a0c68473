"""``python -m pytest_genai_eval``: the ``genai-eval`` command line."""

from __future__ import annotations

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
