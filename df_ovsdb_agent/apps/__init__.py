"""Controller modules ("apps") that run inside the agent process."""
