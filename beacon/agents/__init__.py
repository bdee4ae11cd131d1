"""Per-harness knowledge: which environment points an agent at beacon."""
