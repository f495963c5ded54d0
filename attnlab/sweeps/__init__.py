"""Studies and searches on Optuna storage, in rooms whose imports point down, lowest first.

- ``store``: the storage (journal or database, outages waited out), the cells' ledger and records;
- ``runs``: one cell's or trial's training run (its process, environment, record, W&B run);
- ``workers``: the worker process and its loops over a study's cells and a search's trials;
- ``local``: the launcher that starts workers on this machine, its options and session;
- ``cluster``: the same workers as SLURM array jobs (submitit).

Above them, one module per command: ``ablation`` (``attnlab ablate``, with ``rounds`` for
``--until-decided``), ``sweep`` (``attnlab sweep``), ``wandb_sweep`` and ``study_status``.
"""
