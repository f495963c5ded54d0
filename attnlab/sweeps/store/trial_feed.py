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

The feed keeps no trial itself: what to keep is its reader's choice (the ledger keeps a slim copy).
"""

from __future__ import annotations

from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages._cached_storage import _CachedStorage
from optuna.trial import FrozenTrial


def uncached(storage: BaseStorage) -> BaseStorage:
    """The storage under Optuna's trial cache (a loaded database study's ``_CachedStorage``), or ``storage``."""
    return storage._backend if isinstance(storage, _CachedStorage) else storage


class TrialFeed:
    """The trials of one study that are new or unfinished since the last :meth:`changed`."""

    def __init__(self, storage: BaseStorage, study_id: int) -> None:
        self.storage = storage  # where claims and records are written (the raw storage, as given)
        self.study_id = study_id
        self._source = uncached(storage)
        self._unfinished: set[int] = set()  # trial ids seen unfinished: read again every time
        self._last_finished_id = -1  # database: every id up to it has been seen
        self._seen_count = 0  # journal: how many of the study's trials (in creation order) have been seen

    def changed(self) -> list[FrozenTrial]:
        """The trials created since the last call and those that were unfinished then, in trial-number order."""
        if isinstance(self._source, RDBStorage):
            trials = self._source._get_trials(
                self.study_id, None, included_trial_ids=self._unfinished, trial_id_greater_than=self._last_finished_id
            )
        elif isinstance(self._source, JournalStorage):
            trials = self._from_journal(self._source)
        else:
            trials = self._source.get_all_trials(self.study_id, deepcopy=False)
        self._note(trials)
        return sorted(trials, key=lambda trial: trial.number)

    def _from_journal(self, journal: JournalStorage) -> list[FrozenTrial]:
        with journal._thread_lock:
            journal._sync_with_backend()
            replay = journal._replay_result
            ids = replay._study_id_to_trial_ids[self.study_id]
            wanted = self._unfinished.union(ids[self._seen_count :])
            self._seen_count = len(ids)
            return [replay._trials[trial_id] for trial_id in wanted]

    def _note(self, trials: list[FrozenTrial]) -> None:
        for trial in trials:
            if trial.state.is_finished():
                self._unfinished.discard(trial._trial_id)
                self._last_finished_id = max(self._last_finished_id, trial._trial_id)
            else:
                self._unfinished.add(trial._trial_id)
