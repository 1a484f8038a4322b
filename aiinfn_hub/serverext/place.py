"""``GET aiinfn-hub/api/server``: where this server runs, whether it fell back, and whether its
home is a scratch folder, with the words JupyterLab shows for the whole session (from the
spawner's :data:`~aiinfn_hub.serverplace.PLACE_ENV`; outside a hub the site is empty)."""

from __future__ import annotations

import os

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..serverplace import ServerPlace
from .handlers import PREFIX, BaseHandler


class ServerPlaceHandler(BaseHandler):
    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(200, ServerPlace.from_env(os.environ).to_api())


def place_routes() -> list[tuple[str, type[BaseHandler]]]:
    """Its route, relative to the server's base URL; before the prefix's catch-all."""
    return [("/" + PREFIX + r"/server/?", ServerPlaceHandler)]
