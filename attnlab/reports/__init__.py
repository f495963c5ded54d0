"""Reports: a study's cells -> one DataFrame -> statistics over seeds -> tables, plots and HTML.

- ``sources``: cells from an Optuna storage, W&B (public API or run files on disk), or CSV logs;
- ``cells``: the one-row-per-cell frame, with missing and failed cells kept;
- ``stats`` / ``aggregate``: Student t intervals, paired t-tests against the baseline, Holm;
- ``tables`` / ``plots`` / ``html`` / ``report``: Markdown, LaTeX, CSV, JSON and a self-contained HTML page;
- ``dashboard``: optuna-dashboard on the study storage.
"""
