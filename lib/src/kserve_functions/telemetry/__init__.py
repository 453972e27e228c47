"""What the functions tell their operators: metrics (and, beside them, logs and traces)."""
