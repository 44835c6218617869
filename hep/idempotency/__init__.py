"""Idempotency-Key for single writes: the stored answers (models.py) and the decorator that replays them (replay.py)."""
