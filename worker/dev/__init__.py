"""`autorec dev` tooling: embedded Redis, sandbox, supervision, demo; never in the service."""
