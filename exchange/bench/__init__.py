"""Benchmarks: each prints its figures beside a ceiling measured in the same run."""

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
"""The PostgreSQL server the database benchmarks make their scratch databases on, unless told another."""
