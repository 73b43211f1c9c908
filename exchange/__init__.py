"""A spot crypto exchange in one asyncio process, wire-compatible with Backpack Exchange."""
