"""Training the paper's classifier: one ensemble, a sweep of many, the adapted solver, the cost."""
