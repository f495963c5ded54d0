"""Waiting for other processes with backoff: a poll that finds nothing new waits twice as long next time.

Idle workers at the end of a study, search workers waiting on the last trials and ``--slurm --wait``
would otherwise read the storage at a fixed rate however long they wait: with hundreds of workers
that alone keeps a database busy.
"""

from __future__ import annotations

import time


class Backoff:
    """Waits ``first_s``, doubling each wait up to ``longest_s``, until :meth:`reset` (something changed)."""

    def __init__(self, first_s: float, longest_s: float) -> None:
        self.first_s = first_s
        self.longest_s = max(first_s, longest_s)
        self.next_s = first_s

    def wait(self) -> None:
        time.sleep(self.next_s)
        self.lengthen()

    def lengthen(self) -> None:
        """The next wait twice as long (up to ``longest_s``): for a caller that waits its own way (``next_s``)."""
        self.next_s = min(2 * self.next_s, self.longest_s)

    def reset(self) -> None:
        self.next_s = self.first_s
