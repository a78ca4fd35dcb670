"""Signals during a range test (lrfinder/_core/_signals.py)."""

from __future__ import annotations

import signal
import threading

import pytest

from lrfinder._core._signals import Terminated, signals_held, terminate_cleanly


@pytest.mark.usefixtures("ctrl_c")
def test_signals_held_delivers_a_ctrl_c_after_the_block() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt):
        with signals_held():
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)
            done.append("rest of the block")
    assert done == ["rest of the block"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigterm_is_raised_as_terminated_inside_the_block_when_its_handler_is_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    delivered = []
    monkeypatch.setattr(signal, "raise_signal", delivered.append)  # not the real SIGTERM
    with pytest.raises(Terminated), terminate_cleanly():
        signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
    assert delivered == [signal.SIGTERM]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_a_sigterm_handler_the_program_installed_is_left_alone() -> None:
    seen = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: seen.append(signum))
    try:
        with terminate_cleanly():
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
        assert seen == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_outside_the_main_thread_nothing_is_installed() -> None:
    handlers = []

    def work() -> None:
        with terminate_cleanly(), signals_held():
            handlers.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=work)
    thread.start()
    thread.join()
    assert handlers == [signal.SIG_DFL]
