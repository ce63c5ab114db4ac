"""Library templates of the repair family."""
