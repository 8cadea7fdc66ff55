"""One module per experiment: what each notebook trains, scores and records."""
