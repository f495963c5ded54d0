"""The worker process and its two loops: over a study's cells, and over a search's trials drawn from its
sweep file's space; what a worker is told (its spec) and the step timing it measures once."""
