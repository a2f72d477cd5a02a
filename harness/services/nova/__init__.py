"""nova: service.py (its procedure, processes and config) and resources.py (what
must survive a roll)."""
