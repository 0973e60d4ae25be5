"""A local stand-in for Agora: Cloud Recording REST, channel user list, NCS events, faults."""
