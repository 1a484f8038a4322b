"""The jupyter-server extension in the user's server: the panel's API, staging and events."""

from .app import AiinfnHubExtension


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": "aiinfn_hub.serverext", "app": AiinfnHubExtension}]


__all__ = ["AiinfnHubExtension"]
