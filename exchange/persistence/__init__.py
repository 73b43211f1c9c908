"""Durable state in PostgreSQL: the schema, migrations, the batched writer, recovery and queries."""
