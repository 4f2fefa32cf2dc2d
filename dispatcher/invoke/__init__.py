"""The invoker wing: consumes fires from the bus, admits them under the tenant's limits,
signs and sends the webhook, records the attempt, and retries or dead-letters."""
