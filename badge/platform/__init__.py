"""What any service needs: the server protocol, HTTP helpers, compression,
rate limits, metrics, the Redis bus, shared keys, purges, the change feed, logging."""
