"""A study's trials that are new or may have changed since the last look, read without re-reading the rest.

Optuna's own trial cache (``_CachedStorage``) rests on one fact, and so does this feed: a finished
trial never changes again (every storage refuses writes to it, ``UpdateFinishedTrialError``). So a
reader that has seen a trial finished never needs to read it again; it only needs the trials it saw
unfinished (read again every time) and the trials created since. What that costs is bounded by the
running trials and the new ones, whatever the size of the study:

- a database (``RDBStorage``): the query ``_CachedStorage`` makes, trials whose id is above the last
  finished one seen or among the unfinished ones seen. It cannot miss a trial: a trial is created
  holding the study's row lock (its id is drawn under that lock), so trials become visible in id
  order, and every id at or below the highest seen was seen, finished (final) or not (read again);
- a journal: the storage replays only the log lines appended since its last read; the feed then
  hands on the study's trials created since its last look and the ones it saw unfinished.

Every other storage (in memory) is read whole; it is one process's own study, never large.

A database is read in pages of at most :data:`PAGE_TRIALS` trials by id, handed on as they come, and
only the :class:`TrialParts` the reader needs: the ledger and a status read a trial's state and marks, no
params, no curve and no record (the bulk of a finished trial). So the first look at a 20,000-trial study
neither holds it whole nor parses its records.

The feed keeps no trial itself: what to keep is its reader's choice (the ledger keeps a slim copy).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages._cached_storage import _CachedStorage
from optuna.storages._rdb import models
from optuna.trial import FrozenTrial
from sqlalchemy import ColumnElement

from attnlab.sweeps.store.trial_pages import WHOLE_TRIALS, TrialParts, read_page

PAGE_TRIALS = 1000  # trials per database page: a look at any study holds at most this many trials' rows at once
_TRIAL_ID = models.TrialModel.__table__.c.trial_id


def uncached(storage: BaseStorage) -> BaseStorage:
    """The storage under Optuna's trial cache (a loaded database study's ``_CachedStorage``), or ``storage``."""
    return storage._backend if isinstance(storage, _CachedStorage) else storage


class TrialFeed:
    """The trials of one study that are new or unfinished since the last :meth:`changed`, with ``parts`` of each."""

    def __init__(
        self, storage: BaseStorage, study_id: int, parts: TrialParts = WHOLE_TRIALS, page_trials: int = PAGE_TRIALS
    ) -> None:
        self.storage = storage  # where claims and records are written (the raw storage, as given)
        self.study_id = study_id
        self._source = uncached(storage)
        self._parts = parts
        self._page_trials = page_trials
        self._unfinished: set[int] = set()  # trial ids seen unfinished: read again every time
        self._last_finished_id = -1  # database: every id up to it has been seen
        self._seen_count = 0  # journal: how many of the study's trials (in creation order) have been seen

    def changed(self) -> Iterator[FrozenTrial]:
        """The trials created since the last look and those that were unfinished then, in trial-number order.

        Read as the iterator is consumed (a database page by page): consume it whole, under the lock, if any.
        """
        if isinstance(self._source, RDBStorage):
            trials: Iterable[FrozenTrial] = self._from_database(self._source)
        elif isinstance(self._source, JournalStorage):
            trials = self._from_journal(self._source)
        else:
            trials = sorted(self._source.get_all_trials(self.study_id, deepcopy=False), key=lambda trial: trial.number)
        for trial in trials:
            self._note(trial)
            yield trial

    def _from_database(self, database: RDBStorage) -> Iterator[FrozenTrial]:
        """The unfinished trials seen at or below the last finished id, then every later id, in pages by id."""
        known = sorted(trial_id for trial_id in self._unfinished if trial_id <= self._last_finished_id)
        for start in range(0, len(known), self._page_trials):
            yield from self._page(database, _TRIAL_ID.in_(known[start : start + self._page_trials]), None)
        after = self._last_finished_id
        while True:
            page = self._page(database, after < _TRIAL_ID, self._page_trials)
            yield from page
            if len(page) < self._page_trials:
                return
            after = page[-1]._trial_id

    def _page(self, database: RDBStorage, which: ColumnElement[bool], limit: int | None) -> list[FrozenTrial]:
        return read_page(database, self.study_id, self._parts, which, limit)

    def _from_journal(self, journal: JournalStorage) -> list[FrozenTrial]:
        with journal._thread_lock:
            journal._sync_with_backend()
            replay = journal._replay_result
            ids = replay._study_id_to_trial_ids[self.study_id]
            wanted = self._unfinished.union(ids[self._seen_count :])
            self._seen_count = len(ids)
            return sorted((replay._trials[trial_id] for trial_id in wanted), key=lambda trial: trial.number)

    def _note(self, trial: FrozenTrial) -> None:
        if trial.state.is_finished():
            self._unfinished.discard(trial._trial_id)
            self._last_finished_id = max(self._last_finished_id, trial._trial_id)
        else:
            self._unfinished.add(trial._trial_id)
