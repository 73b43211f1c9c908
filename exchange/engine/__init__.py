"""The matching engine: pure, synchronous and deterministic (see DESIGN.md).

Nothing in this package but `actor.py` may import asyncio, the database or the web:
`Engine.handle(command) -> list[Event]` is the whole interface to the outside.
"""
