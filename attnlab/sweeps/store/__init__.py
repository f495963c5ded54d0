"""The Optuna storage and what attnlab keeps in it: opening and waiting out outages, the cells' ledger
(who may train what, exactly once), attempts, records, settings, dashboard notes, and how often to look."""
