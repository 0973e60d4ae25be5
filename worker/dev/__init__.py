"""`autorec dev` tooling: embedded Redis, sandbox, supervised children, demo; never in the service."""
