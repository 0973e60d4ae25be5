"""Test helpers shared by the test modules (conftests hold fixtures only)."""
