"""Test infrastructure shared by the unit tests, the cross-service tests and the benchmarks."""
