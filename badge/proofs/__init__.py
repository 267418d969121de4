"""Domain ownership proofs: DNS and well-known file checks, run by the CLI, the admin API
and a background job (the pure rules are in badge/registry/proofs.py)."""
