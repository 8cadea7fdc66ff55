"""Stored runs: one run's files and the cache that finds, verifies and writes them."""
