"""Webhooks: signed Standard Webhooks events for every terminal task state, sent from the durable outbox."""
