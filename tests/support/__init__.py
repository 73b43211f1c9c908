"""What several test packages share: scratch databases, child processes, the running demo."""
