"""A worker's Ctrl-C is never lost: one swallowed where Python cannot raise (a finalizer) is still honoured."""

from __future__ import annotations

import gc
import os
import signal

import pytest

from attnlab.sweeps.workers.worker import interrupted_once, stop_requested, stop_under_way


class _SignalsOnCollection:
    """Sends this process SIGINT from its finalizer: the handler's KeyboardInterrupt is raised in the finalizer,
    where Python prints it and goes on (what can happen when a signal arrives while GC runs one)."""

    def __del__(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the swallowed one, on purpose
def test_a_swallowed_interrupt_is_requested_and_the_next_signal_raises_until_clean_up_begins() -> None:
    with interrupted_once():
        holder = _SignalsOnCollection()
        del holder
        gc.collect()  # the KeyboardInterrupt is swallowed ("Exception ignored in ... __del__")
        assert stop_requested()  # so the worker's loop stops before its next cell
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)  # a later signal (the launcher's, a second Ctrl-C) raises again
        stop_under_way()  # the clean-up begins: from here on, signals are ignored
        os.kill(os.getpid(), signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN  # the previous handlers come back


def test_a_new_worker_run_starts_without_a_stop_requested() -> None:
    with interrupted_once():
        assert not stop_requested()
