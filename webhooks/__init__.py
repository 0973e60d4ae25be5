"""autorec's HTTP edge: signed webhooks in, durable deduplicated enqueue, health and metrics."""
