"""Where the study runs: the torch device and parallel worker processes."""
