"""The per-channel reconcile: loop > perform > steps > effects > decide, plus the periodic pass."""
