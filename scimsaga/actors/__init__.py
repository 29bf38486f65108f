"""The services: plain classes with their own SQLite files, made into Ray actors in ``runtime.py``."""
