"""Running blocking user code (sync apps, Python judges) off the event loop without ever keeping
the process alive.

``asyncio.to_thread`` uses the loop's default executor, whose worker threads are joined when the
interpreter exits: a sync app that never returns keeps the process alive forever, long after
its row's deadline. Here each call gets its own daemon thread. When the awaiting coroutine is
cancelled (the row's deadline passed, the session stops), the thread is abandoned: it cannot be
killed, but it no longer holds up anything, and the process exits without waiting for it.

The call's own duration is measured inside the thread, around the function alone, so it does
not include the time the result waits for a busy event loop to pick it up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

__all__ = ["Timed", "run_in_daemon_thread"]


@dataclass(frozen=True)
class Timed(Generic[T]):
    """A value and the seconds the call that produced it took, measured in its own thread."""

    value: T
    seconds: float


def _deliver(future: asyncio.Future[Any], value: Any, error: BaseException | None) -> None:
    if future.done():  # cancelled meanwhile (deadline, shutdown): nobody waits any more
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)


async def run_in_daemon_thread(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Timed[T]:
    """Call ``fn(*args, **kwargs)`` in a new daemon thread and await its result.

    Exceptions raised by ``fn`` are raised here. Cancelling the await abandons the thread.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Timed[T]] = loop.create_future()

    def work() -> None:
        started = time.perf_counter()
        value: Timed[T] | None = None
        error: BaseException | None = None
        try:
            result = fn(*args, **kwargs)
            value = Timed(result, time.perf_counter() - started)
        except BaseException as exc:  # delivered to the awaiting coroutine, never lost
            error = exc
        with contextlib.suppress(RuntimeError):  # the loop is closed: the run is over
            loop.call_soon_threadsafe(_deliver, future, value, error)

    name = getattr(fn, "__qualname__", "call")
    threading.Thread(target=work, name=f"genai-eval:{name}", daemon=True).start()
    return await future
