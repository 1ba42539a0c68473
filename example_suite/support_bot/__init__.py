"""A small retrieval-augmented support bot for the example evaluation suite."""
