"""The app-facing API (`/api/v1`): bearer auth, JSON bodies, OpenAPI, and its operations."""
