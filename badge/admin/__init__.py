"""The operators' admin API, mounted at /admin/api/v1 (badge/app.py) behind bearer tokens."""
