"""The launcher on this machine: placement of workers on devices and cores, the options and the
session (storage and study) a launch opens, and the progress it shows while its workers run."""
