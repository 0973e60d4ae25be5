"""Helpers of the end-to-end tests: process stacks, the sandbox admin API, invariant checks."""
