"""The cluster path: the same workers as SLURM array jobs through submitit, and their options."""
