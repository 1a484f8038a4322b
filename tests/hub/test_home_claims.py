"""Users whose names are no DNS label: KubeSpawner makes their home claim under the chart's
default naming, and a job that asks for the home volume mounts that very claim.

The user's server writes files into its home through Jupyter's contents API; a job submitted
through the server's extension with the file read in place (``aiinfn-jobs submit
--from-home``) and one submitted to the service with the ``pvc`` volume read them back.
"""

from __future__ import annotations

from typing import Any

import pytest

from aiinfn_hub.jobs.claims import HomeClaim
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import HubClient

JOBS = "/services/aiinfn-jobs/jobs"
IMAGE = "aiinfn-hub/singleuser:sandbox"
READER = "import pathlib\nprint(pathlib.Path(__file__).with_name('note.txt').read_text())\n"


def home_claim_of_server(hub: HubClient, user: str) -> str:
    """The claim the user's server pod mounts at its home."""
    (home,) = [v for v in hub.user_pod(user)["spec"]["volumes"] if v["name"] == "home"]
    return home["persistentVolumeClaim"]["claimName"]


def attempt_claims(hub: HubClient, job_id: str) -> list[str]:
    """The claims the job's attempt Jobs mount."""
    path = f"/apis/batch/v1/namespaces/{hub.namespace}/jobs"
    path += f"?labelSelector=aiinfn.infn.it/job-id%3D{job_id}"
    return [
        volume["persistentVolumeClaim"]["claimName"]
        for job in hub.cluster_get(path)["items"]
        for volume in job["spec"]["template"]["spec"]["volumes"]
        if "persistentVolumeClaim" in volume
    ]


@pytest.mark.parametrize("user", ["mario.rossi@infn.it", "anna_bianchi"])
async def test_a_home_job_reads_what_the_users_server_wrote_in_its_home(hub: HubClient, user):
    await home_round_trip(hub, user)


async def home_round_trip(hub: HubClient, user: str) -> None:
    """Spawn ``user``'s server, write into its home, read it back from two home jobs (one
    through the server's extension, one straight to the service); stop the server."""
    assert (await hub.spawn(user, {"profile": "cpu-small"})).status_code == 202
    await hub.wait_ready(user)
    claim = home_claim_of_server(hub, user)
    # KubeSpawner's safe slug, with a hash
    assert claim == HomeClaim(hub.namespace).name_for(user)
    assert claim.startswith("claim-") and "---" in claim
    token = {"Authorization": f"token {await hub.user_token(user)}"}
    server = f"/user/{user}"
    async with hub.client(headers=token) as http:
        for name, text in (("note.txt", f"written by {user}'s server"), ("reader.py", READER)):
            body = {"type": "file", "format": "text", "content": text}
            written = await http.put(f"{server}/api/contents/{name}", json=body)
            assert written.status_code in (200, 201), written.text

        # through the server's extension, the file run in place from the home volume
        created = await http.post(
            f"{server}/aiinfn-hub/api/jobs", json={"path": "reader.py", "staging": "home"}
        )
        assert created.status_code == 201, created.text
        in_place = created.json()["id"]
        # straight to the service, with the home volume
        read = ["python", "-c", "import sys; print(open(sys.argv[1]).read())"]
        body = {
            "command": [*read, "/home/jovyan/note.txt"],
            "volumes": ["pvc"],
            "image": IMAGE,
            "resources": {"cpu": 1},
        }
        created = await http.post(JOBS, json=body)
        assert created.status_code == 201, created.text
        direct = created.json()["id"]

        for job_id in (in_place, direct):

            async def ended(job_id: str = job_id) -> dict[str, Any] | None:
                job = (await http.get(f"{JOBS}/{job_id}")).json()
                return job if job["state"] in ("succeeded", "failed", "cancelled") else None

            job = await wait_until(ended, 120, 0.5, f"job {job_id} to end")
            assert (job["state"], job["site"]) == ("succeeded", "local"), job
            log = (await http.get(f"{JOBS}/{job_id}/log")).json()
            assert log["data"] == f"written by {user}'s server\n"
            assert attempt_claims(hub, job_id) == [claim]
    await hub.stop(user)
