"""The badge pipeline, from the ASGI fast path to the bytes."""
