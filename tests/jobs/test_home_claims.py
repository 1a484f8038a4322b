"""Jobs and users' claims on the sandbox: the home claim KubeSpawner names for any user name is
the one mounted; a job asking for a home that does not exist yet is refused in words; a claim
that goes missing ends the job in words instead of leaving it Pending for ever."""

from __future__ import annotations

from kubernetes_asyncio import client

from aiinfn_hub.jobs.claims import HomeClaim
from aiinfn_hub.kube.client import kube_client

from .conftest import fast_config, give_home, start_manager, stop_manager, wait_for

#: Users whose names are no DNS label, as a real hub has them.
USERS = ("mario.rossi@infn.it", "Anna_Bianchi")


async def delete_claim(kubeconfig, name: str) -> None:
    api = await kube_client(str(kubeconfig))
    try:
        await client.CoreV1Api(api).delete_namespaced_persistent_volume_claim(name, "default")
    finally:
        await api.close()


async def test_a_home_job_mounts_the_claim_kubespawner_named(sandbox, manager):
    # the sandbox points arguments that start with a mountPath at the volume's folder
    read = [
        "python",
        "-c",
        "import os, sys; print(sorted(os.listdir(sys.argv[1])))",
        "/home/jovyan",
    ]
    for user in USERS:
        name = await give_home(sandbox.kubeconfig, user)
        assert name == HomeClaim("default").name_for(user) and name.startswith("claim-")
        folder = sandbox.state_dir / "claims" / "default" / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{name}.txt").write_text("mine")
        view, _ = await manager.submit(user, {"command": read, "volumes": ["pvc"]})
        done = await wait_for(manager, view["id"])
        assert done["state"] == "succeeded", done["reason"]
        assert (await manager.logs(user, False, view["id"]))["data"] == f"['{name}.txt']\n"
        job = manager.jobs[view["id"]].attempts[1]
        volumes = job["spec"]["template"]["spec"]["volumes"]
        assert {"name": "pvc-0", "persistentVolumeClaim": {"claimName": name}} in volumes


async def test_a_job_for_a_home_that_does_not_exist_yet_is_a_422_in_words(api, sandbox):
    body = {"command": ["true"], "volumes": ["pvc"]}
    status, answer = await api.call("POST", "jobs", body)
    assert status == 422, answer
    assert answer["field"] == "volumes"
    assert answer["error"] == (
        "you have no home volume yet: start your notebook server once (it creates the "
        "volume), then submit the job again"
    )
    await give_home(sandbox.kubeconfig, "alice")
    status, answer = await api.call("POST", "jobs", body)
    assert status == 201, answer


async def test_a_job_whose_claim_went_missing_fails_and_says_why(sandbox):
    config = fast_config()
    config.JobsManager.shared_claims = ["datasets"]
    await give_home(sandbox.kubeconfig, claim="datasets")
    manager = await start_manager(str(sandbox.kubeconfig), config)
    sandbox.faults.stall_admission("local")  # the pod comes after the claim has gone
    try:
        body = {"command": ["true"], "volumes": ["pvc:datasets"]}
        view, _ = await manager.submit("mario.rossi@infn.it", body)
        await delete_claim(sandbox.kubeconfig, "datasets")
        sandbox.faults.stall_admission("local", on=False)
        done = await wait_for(manager, view["id"])
    finally:
        sandbox.faults.stall_admission("local", on=False)
        await stop_manager(manager)
    assert done["state"] == "failed", done
    assert done["reason"] == (
        "it cannot start: its volume 'datasets' does not exist in the cluster (if it is your "
        "home volume, start your notebook server once to create it, then run the job again)"
    )
    (attempt,) = done["attempts"]
    assert (attempt["site"], attempt["outcome"]) == ("local", "failed")
