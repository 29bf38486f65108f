"""The event bus: envelopes, the broker, outbox relay and consumer-side deduplication."""
