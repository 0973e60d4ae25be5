"""Helpers for the Agora client's tests: the in-process sandbox harness and valid requests."""
