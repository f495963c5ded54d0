"""Where a study's cells come from: an Optuna storage, a W&B project (online or offline run files), CSV logs.

Each source returns a :class:`~attnlab.reports.spec.LoadedStudy` of :class:`~attnlab.sweeps.store.records.CellRecord`
objects, so the aggregation and rendering never know which one was used.
"""
