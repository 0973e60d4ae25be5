"""Tests of the app-facing API (`/api/v1`)."""
