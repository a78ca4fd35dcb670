"""Signals during a range test: SIGTERM ends it the way Ctrl-C does (the state is restored and
temporary files removed, then the process ends as SIGTERM's default would), and neither signal
can cut a restore in half. Python runs signal handlers in the main thread only, so elsewhere
these do nothing."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_HELD = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


class Terminated(BaseException):
    """SIGTERM arrived during a range test. Raised (like ``KeyboardInterrupt``, past ``except
    Exception``) so the restore and the clean-up run; the signal is then delivered again."""


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def terminate_cleanly() -> Iterator[None]:
    """For the block: SIGTERM raises :class:`Terminated` instead of killing the process at once;
    once the block has unwound (its ``finally`` clauses have restored and cleaned up), SIGTERM is
    delivered again with its default action, so the process ends as it would have.

    Only when SIGTERM has its default action: a handler the program installed (or SIG_IGN) is
    left alone.
    """
    if (
        not hasattr(signal, "SIGTERM")
        or not _main_thread()
        or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
    ):
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(f"signal {signum} (SIGTERM) during the range test")

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    except Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
        raise  # reached only where SIGTERM is blocked
    finally:
        if signal.getsignal(signal.SIGTERM) is handler:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back during the block (a restore) and delivered when it ends,
    so a second Ctrl-C cannot leave the model half restored."""
    if not _main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)

    previous = {}
    for signum in _HELD:
        handler = signal.getsignal(signum)
        if handler is not None:  # None: installed outside Python, which could not put it back
            previous[signum] = handler
            signal.signal(signum, hold)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)
