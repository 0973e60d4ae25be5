"""Everything the worker keeps in Redis; Lua scripts sit beside their owner module (scripts.py)."""
