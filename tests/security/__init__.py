"""Security tests: hostile and random input to every parser (property tests with hypothesis)."""
