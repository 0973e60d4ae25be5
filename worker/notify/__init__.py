"""Outgoing notifications: the body of each lifecycle event (`payload`), signing
(`signing`), the retry schedule (`schedule`) and delivery from the outbox (`deliver`).

The outbox itself lives in Redis (`worker/state/outbox.py`); the controller writes to it in
the same step as the state change it reports.
"""
