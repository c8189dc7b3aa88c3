"""Test doubles of external services (never of the project's own services)."""
