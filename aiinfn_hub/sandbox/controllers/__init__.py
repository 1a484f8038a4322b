"""Controllers that make the sandbox's objects live, each an asyncio task in the server."""
