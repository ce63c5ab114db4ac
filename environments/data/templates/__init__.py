"""Data-set generators of the data family, one module per template."""
