"""A jobs service for the chaos tests, in a process of its own so that it can be SIGKILLed:
it starts as the hub's ServiceAccount, submits the jobs given as JSON on the command line,
prints their ids as one JSON line, and runs its controller until killed.

``python -m tests.cluster.chaos_service USER JSON-LIST-OF-BODIES``
"""

from __future__ import annotations

import asyncio
import json
import sys

from tests.cluster.test_jobs import start


async def main(user: str, bodies: list[dict]) -> None:
    manager = await start()
    ids = []
    for body in bodies:
        view, _ = await manager.submit(user, body)
        ids.append(view["id"])
    print(json.dumps(ids), flush=True)
    await asyncio.Event().wait()  # the controller runs until the test kills this process


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
