"""The study's numbers: scores under any solver, learned seeds, critical steps, verdicts."""
