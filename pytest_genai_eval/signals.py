"""Interrupts that never cost a verdict: SIGINT and SIGTERM end the run through pytest's own
interrupt path, and a second signal cannot cut the finishing short.

* SIGINT (Ctrl-C) raises ``KeyboardInterrupt`` as usual; SIGTERM (what CI runners send on
  cancel and timeout) raises :class:`Terminated`, a ``KeyboardInterrupt``, instead of killing the
  process outright. pytest then stops the run and calls ``pytest_sessionfinish``, where the
  plugin writes every finished row, marks the run incomplete and flushes the verdict cache.
* Once one signal has been received, the next ones are only recorded: the results are being
  written, and an exception there would lose them. A third signal restores the default
  handlers and re-raises, for a user who really wants out at once.

Handlers are installed only in the main thread and only over Python's defaults (a handler the
user or another plugin installed is left alone), and restored by :meth:`InterruptGuard.uninstall`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["InterruptGuard", "Terminated"]

Handler = Callable[[int, FrameType | None], Any] | int | None


class Terminated(KeyboardInterrupt):
    """SIGTERM received: the run stops the way Ctrl-C stops it."""


_NAMES = {signal.SIGINT: "SIGINT", signal.SIGTERM: "SIGTERM"}
_HARD_EXIT_AFTER = 3  # the third signal is not deferred


class InterruptGuard:
    """Turns SIGINT and SIGTERM into a clean interrupt; owned by one pytest session."""

    def __init__(self) -> None:
        self.received: list[str] = []
        self._previous: dict[int, Handler] = {}

    @property
    def interrupted(self) -> bool:
        return bool(self.received)

    @property
    def first(self) -> str | None:
        """The name of the first signal received (``"SIGINT"`` / ``"SIGTERM"``), or None."""
        return self.received[0] if self.received else None

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        defaults: dict[int, Handler] = {
            signal.SIGINT: signal.default_int_handler,
            signal.SIGTERM: signal.SIG_DFL,
        }
        for signum, default in defaults.items():
            current = signal.getsignal(signum)
            if current is not default:
                continue  # someone else's handler: theirs to keep
            signal.signal(signum, self._handle)
            self._previous[signum] = current

    def uninstall(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, previous in self._previous.items():
            if signal.getsignal(signum) == self._handle:
                signal.signal(signum, previous)
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        name = _NAMES.get(signal.Signals(signum), str(signum))
        self.received.append(name)
        count = len(self.received)
        if count == 1:
            if signum == signal.SIGTERM:
                raise Terminated(f"{name} received")
            raise KeyboardInterrupt
        if count >= _HARD_EXIT_AFTER:
            self.uninstall()
            if signum == signal.SIGTERM:
                raise Terminated(f"{name} received {count} times")
            raise KeyboardInterrupt
        # the second signal: the run is already stopping and its results are being written
