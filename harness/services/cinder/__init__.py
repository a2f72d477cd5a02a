"""Cinder: block storage (its API on every API node; scheduler, volume, backup on the
controller)."""
