"""The web layer: pages, API models, OpenAPI and the error responses."""
