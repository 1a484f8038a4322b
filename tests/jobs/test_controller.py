"""The controller on the sandbox: the table end to end, every fallback trigger, cancel,
rerun, array jobs, logs, and restarts that lose nothing."""

from __future__ import annotations

import json

import pytest

from aiinfn_hub.errors import AIInfnError
from aiinfn_hub.jobs import labels as L
from aiinfn_hub.sandbox.testing import wait_until

from .conftest import (
    SLOW_AT_TIER1,
    evict_running_pod,
    fast_config,
    fell_back_from_a_drained_node,
    give_home,
    start_manager,
    stop_manager,
    wait_for,
)

PRINT_SITE = ["python", "-c", "import os; print('site=' + os.environ['AIINFN_SITE'])"]


def command_job(**extra):
    return {"command": PRINT_SITE, **extra}


@pytest.mark.parametrize(
    ("request_data", "site"),
    [
        ({"volumes": ["pvc"]}, "local"),
        ({}, "tier1"),
        ({"resources": {"gpus": 1}, "local_only": True}, "local"),
        ({"resources": {"gpus": 1, "gpu_model": "A100"}}, "leonardo"),
    ],
    ids=["cpu-local", "cpu-offloadable", "gpu-local", "gpu-offloadable"],
)
async def test_each_row_runs_at_its_first_choice(manager, sandbox, request_data, site):
    await give_home(sandbox.kubeconfig)
    view, new = await manager.submit("alice", command_job(**request_data))
    assert new
    assert view["site"] == site
    done = await wait_for(manager, view["id"])
    assert done["state"] == "succeeded", done["reason"]
    assert done["site"] == site
    assert [a["site"] for a in done["attempts"]] == [site]
    assert done["attempts"][0]["outcome"] == "succeeded"
    log = await manager.logs("alice", False, view["id"])
    assert log["data"] == f"site={site}\n"
    assert log["eof"] is True


async def fall_back(manager, sandbox, fault, *args, **request):
    getattr(sandbox.faults, fault)(*args)
    view, _ = await manager.submit("alice", command_job(**request))
    done = await wait_for(manager, view["id"])
    assert done["state"] == "succeeded", done
    first, second = done["attempts"]
    assert (first["site"], first["outcome"]) == (args[0], "fell_back")
    assert (second["site"], second["outcome"]) == ("local", "succeeded")
    assert done["fallback"].endswith(", now on Local resources")
    return done


async def test_provider_failure_falls_back(manager, sandbox):
    done = await fall_back(manager, sandbox, "provider_failure", "leonardo", resources={"gpus": 1})
    attempt = done["attempts"][0]
    assert attempt["reason"].startswith("the remote submission failed: Error creating")
    assert attempt["pod"]["reason"] == "ProviderFailed"


async def test_infrastructure_exit_code_falls_back(manager, sandbox):
    done = await fall_back(manager, sandbox, "infra_exit_code", "tier1")
    assert done["attempts"][0]["reason"] == "the site lost the job (infrastructure exit code 404)"
    assert done["fallback"].startswith("CNAF Tier-1: the site lost the job")


async def test_not_admitted_within_timeout_falls_back(manager, sandbox):
    done = await fall_back(manager, sandbox, "stall_admission", "leonardo", resources={"gpus": 1})
    assert done["attempts"][0]["reason"].startswith("not admitted within 2s")


async def test_site_down_while_waiting_falls_back(manager, sandbox):
    sandbox.faults.stall_admission("leonardo")
    view, _ = await manager.submit("alice", command_job(resources={"gpus": 1}))
    await wait_for(manager, view["id"], ("queued",))
    sandbox.faults.site_down("leonardo")
    done = await wait_for(manager, view["id"])
    assert done["state"] == "succeeded"
    assert done["attempts"][0]["reason"].startswith(
        "became unavailable while the job waited there (down: the connection to the site is lost"
    )


async def test_evicted_by_kueue_falls_back(manager, sandbox):
    sandbox.faults.stall_admission("local")
    blocker, _ = await manager.submit(
        "alice", {"command": ["sleep", "30"], "resources": {"gpus": 1}}
    )
    await wait_for(manager, blocker["id"], ("running",))
    sandbox.faults.preempt("leonardo")
    done = await wait_for(manager, blocker["id"], ("queued", "succeeded", "failed"))
    assert done["attempts"][0]["outcome"] == "fell_back"
    assert "evicted by Kueue (Preempted" in done["attempts"][0]["reason"]


async def test_a_running_job_whose_node_is_drained_falls_back_blamed_on_the_site(manager, sandbox):
    """The eviction API stops the pod (exit 137 at interLink's virtual node): read alone, the
    pod's end would say the user's code failed."""
    view, _ = await manager.submit("mario.rossi@infn.it", SLOW_AT_TIER1)
    await wait_for(manager, view["id"], ("running",))
    await evict_running_pod(str(sandbox.kubeconfig), "default", view["id"])
    fell_back_from_a_drained_node(await wait_for(manager, view["id"]))


async def test_site_in_maintenance_is_skipped_before_submission(manager, sandbox):
    sandbox.faults.maintenance("leonardo")
    await wait_until(lambda: not manager.health["leonardo"].usable, timeout=60)
    view, _ = await manager.submit("alice", command_job(resources={"gpus": 1}))
    assert [s["name"] for s in view["plan"]["sites"]] == ["local"]
    assert {
        "name": "leonardo",
        "reason": "in maintenance (vk-leonardo tainted slurm.interlink/maintenance)",
        "display_name": "CINECA Leonardo",
    } in view["plan"]["ruled_out"]
    done = await wait_for(manager, view["id"])
    assert done["site"] == "local"


async def test_cannot_be_admitted_anywhere_fails_with_whole_history(sandbox):
    config = fast_config(leonardo={"cpu": 4096, "timeouts": {"admission": 2, "start": 2}})
    manager = await start_manager(str(sandbox.kubeconfig), config)
    try:
        view, _ = await manager.submit("alice", command_job(resources={"gpus": 1, "cpu": 2000}))
        assert view["plan"]["sites"] == [
            {
                "name": "leonardo",
                "reason": view["plan"]["sites"][0]["reason"],
                "display_name": "CINECA Leonardo",
            }
        ]
        done = await wait_for(manager, view["id"])
        assert done["state"] == "failed"
        assert "ExceedsMaxQuota" in done["reason"]
        assert done["reason"].endswith("no site left to try")
        assert [a["outcome"] for a in done["attempts"]] == ["failed"]
    finally:
        await stop_manager(manager)


async def test_user_code_failure_fails_without_fallback(manager):
    view, _ = await manager.submit("alice", {"command": ["python", "-c", "raise SystemExit(3)"]})
    done = await wait_for(manager, view["id"])
    assert done["state"] == "failed"
    assert len(done["attempts"]) == 1
    assert done["reason"] == "your code exited with code 3; see the job's log"


async def test_walltime_is_enforced(manager):
    view, _ = await manager.submit(
        "alice", {"command": ["sleep", "30"], "walltime": "1s", "local_only": True}
    )
    done = await wait_for(manager, view["id"])
    assert done["state"] == "failed"
    assert done["reason"] == "ran past its walltime of 1s"


async def test_cancel(manager):
    view, _ = await manager.submit("alice", {"command": ["sleep", "60"], "local_only": True})
    await wait_for(manager, view["id"], ("running",))
    cancelled = await manager.cancel("alice", False, view["id"])
    assert cancelled["state"] == "cancelled"
    assert cancelled["reason"] == "cancelled by you"
    await wait_until(lambda: not manager.jobs[view["id"]].pods, timeout=60)
    await wait_until(lambda: not manager.jobs[view["id"]].attempts, timeout=60)
    kept = manager.get("alice", False, view["id"])
    assert (kept["state"], kept["site"]) == ("cancelled", "local")
    last = kept["attempts"][-1]
    assert (last["site"], last["outcome"], last["reason"]) == (
        "local",
        "cancelled",
        "cancelled by you",
    )
    assert last["ended"] and last["ended"] == kept["ended"]
    with pytest.raises(AIInfnError) as info:
        await manager.cancel("alice", False, view["id"])
    assert info.value.status == 409


async def test_rerun_at_a_named_site(manager):
    view, _ = await manager.submit("alice", command_job(resources={"gpus": 1}))
    await wait_for(manager, view["id"])
    again = await manager.rerun("alice", False, view["id"], "local")
    assert again["id"] != view["id"]
    assert [s["name"] for s in again["plan"]["sites"]] == ["local"]
    done = await wait_for(manager, again["id"])
    assert done["site"] == "local" and done["state"] == "succeeded"


async def test_array_job_progress_and_logs_per_index(manager):
    view, _ = await manager.submit(
        "alice",
        {
            "command": [
                "python",
                "-c",
                "import os; print('index', os.environ['JOB_COMPLETION_INDEX'])",
            ],
            "completions": 4,
            "parallelism": 2,
            "local_only": True,
        },
    )
    done = await wait_for(manager, view["id"])
    assert done["progress"] == {"completions": 4, "succeeded": 4, "failed": 0, "active": 0}
    for index in (0, 3):
        log = await manager.logs("alice", False, view["id"], completion_index=index)
        assert log["data"] == f"index {index}\n"


async def test_log_offsets_resume(manager):
    view, _ = await manager.submit(
        "alice", {"command": ["python", "-c", "print('one'); print('two')"], "local_only": True}
    )
    await wait_for(manager, view["id"])
    first = await manager.logs("alice", False, view["id"], offset=0)
    assert first["data"] == "one\ntwo\n"
    rest = await manager.logs("alice", False, view["id"], offset=4)
    assert rest["data"] == "two\n" and rest["next_offset"] == 8 and rest["eof"]


async def test_idempotent_retry_with_client_request_id(manager):
    body = command_job(client_request_id="retry-1")
    first, new1 = await manager.submit("alice", body)
    second, new2 = await manager.submit("alice", body)
    assert (new1, new2) == (True, False)
    assert first["id"] == second["id"]
    other, _ = await manager.submit("bob", body)
    assert other["id"] != first["id"]


async def test_restart_rebuilds_every_job_and_history(sandbox):
    manager = await start_manager(str(sandbox.kubeconfig))
    sandbox.faults.provider_failure("leonardo")
    fell, _ = await manager.submit("alice", command_job(resources={"gpus": 1}))
    done = await wait_for(manager, fell["id"])
    waiting, _ = await manager.submit("bob", {"command": ["sleep", "60"], "local_only": True})
    await wait_for(manager, waiting["id"], ("running",))
    await stop_manager(manager)

    again = await start_manager(str(sandbox.kubeconfig))
    try:
        await wait_until(
            lambda: again.jobs.get(fell["id"]) and again.jobs[fell["id"]].view, timeout=60
        )
        rebuilt = again.get("alice", False, fell["id"])
        assert rebuilt["attempts"] == done["attempts"]
        assert rebuilt["state"] == "succeeded"
        assert again.get("bob", False, waiting["id"])["state"] == "running"
        jobs = await again.kube.call("list job", again.kube.batch.list_namespaced_job, "default")
        names = sorted(j["metadata"]["name"] for j in jobs["items"])
        assert names == sorted([L.attempt_name(fell["id"], 2), L.attempt_name(waiting["id"], 1)])
    finally:
        await stop_manager(again)


async def test_attempt_jobs_in_the_cluster_carry_the_site_wiring_and_restricted_pods(
    manager, sandbox
):
    sandbox.faults.provider_failure("leonardo")
    view, _ = await manager.submit("alice", command_job(resources={"gpus": 1}))
    await wait_for(manager, view["id"])
    job = await manager.kube.get("job", L.attempt_name(view["id"], 2))
    meta, template = job["metadata"], job["spec"]["template"]
    assert meta["labels"][L.QUEUE_NAME] == "local"
    assert meta["labels"][L.JOB_ID] == view["id"] and meta["labels"][L.OWNER] == "alice"
    assert json.loads(meta["annotations"][L.PLAN])["sites"][0]["name"] == "leonardo"
    [history] = json.loads(meta["annotations"][L.ATTEMPTS])
    assert (history["site"], history["outcome"]) == ("leonardo", "fell_back")
    pod = template["spec"]
    assert pod["nodeSelector"] == {"aiinfn.infn.it/site": "local"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    container = pod["containers"][0]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}
    assert {"name": "staged", "configMap": {"name": L.record_name(view["id"])}} in pod["volumes"]
    first = json.loads(meta["annotations"][L.ATTEMPTS])[0]
    assert first["remote_job_id"].startswith("slurm-")
    sandbox.faults.stall_admission("leonardo")
    waiting, _ = await manager.submit("alice", command_job(resources={"gpus": 1}))
    await wait_until(lambda: manager.jobs[waiting["id"]].attempts, timeout=60)
    remote = await manager.kube.get("job", L.attempt_name(waiting["id"], 1))
    assert remote["metadata"]["labels"][L.QUEUE_NAME] == "leonardo"
    pod = remote["spec"]["template"]
    assert pod["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "vk-leonardo"}
    assert pod["spec"]["tolerations"] == [
        {"key": "virtual-node.interlink/no-schedule", "operator": "Exists", "effect": "NoSchedule"}
    ]
    assert pod["metadata"]["annotations"]["slurm-job.vk.io/flags"] == "--partition=boost_usr_prod"
    assert remote["spec"]["suspend"] is True


@pytest.mark.parametrize(
    ("path", "kind"),
    [("my notes/Run 1 (final).py", None), ("spec.json", "python")],
    ids=["spaces", "the-records-own-key"],
)
async def test_a_staged_file_under_any_name_runs_and_reruns(manager, path, kind):
    script = {"path": path, "content": "print('staged ok')", **({"kind": kind} if kind else {})}
    view, _ = await manager.submit("alice", {"script": script, "local_only": True})
    done = await wait_for(manager, view["id"])
    assert done["state"] == "succeeded", done["reason"]
    assert done["spec"]["script"]["path"] == path
    assert (await manager.logs("alice", False, view["id"]))["data"] == "staged ok\n"
    again = await manager.rerun("alice", False, view["id"])
    assert (await wait_for(manager, again["id"]))["state"] == "succeeded"
    assert (await manager.logs("alice", False, again["id"]))["data"] == "staged ok\n"


async def test_a_job_mounts_its_owners_home_or_a_shared_claim_only(sandbox):
    config = fast_config()
    config.JobsManager.shared_claims = ["datasets"]
    manager = await start_manager(str(sandbox.kubeconfig), config)
    assert await give_home(sandbox.kubeconfig) == "claim-alice"
    await give_home(sandbox.kubeconfig, claim="datasets")
    try:
        for volume in ("pvc", "pvc:home", "pvc:claim-alice", "pvc:datasets"):
            view, new = await manager.submit("alice", {"command": ["true"], "volumes": [volume]})
            assert new and view["site"] == "local"
        for claim in ("claim-bob", "hub-db-dir"):
            with pytest.raises(AIInfnError) as info:
                await manager.submit("alice", {"command": ["true"], "volumes": [f"pvc:{claim}"]})
            assert (info.value.status, info.value.field) == (403, "volumes")
            assert info.value.message == (
                "a job may mount your home volume ('pvc') or a claim the admins share "
                f"(JobsManager.shared_claims: datasets), not the claim {claim!r}"
            )
    finally:
        await stop_manager(manager)


async def test_a_job_reads_shared_configmaps_and_secrets_and_writes_scratch(sandbox):
    config = fast_config()
    config.JobsManager.shared_configmaps = ["greetings"]
    config.JobsManager.shared_secrets = ["job-token"]
    manager = await start_manager(str(sandbox.kubeconfig), config)
    kube = manager.kube
    try:
        greetings = {"metadata": {"name": "greetings"}, "data": {"hello.txt": "hello, shared\n"}}
        await kube.create("configmap", greetings)
        token = {"metadata": {"name": "job-token"}, "stringData": {"token": "s3cret\n"}}
        await kube.call("create secret", kube.core.create_namespaced_secret, "default", token)
        script = 'cat "$1" "$2" && echo kept > "$3/note" && cat "$3/note"'
        view, _ = await manager.submit(
            "alice",
            {
                "command": ["sh", "-c", script, "sh", "/mnt/configmap/greetings/hello.txt",
                            "/mnt/secret/job-token/token", "/scratch/cache"],
                "volumes": ["configmap:greetings", "secret:job-token", "emptydir:cache"],
            },
        )  # fmt: skip
        assert view["site"] == "tier1", "interLink sites mount ConfigMaps, Secrets and emptyDirs"
        done = await wait_for(manager, view["id"])
        assert done["state"] == "succeeded", done["reason"]
        log = await manager.logs("alice", False, view["id"])
        assert log["data"] == "hello, shared\ns3cret\nkept\n"
        for volume, words in (
            ("secret:hub-secret", "(JobsManager.shared_secrets: job-token), not the Secret"),
            ("configmap:hub-config", "(JobsManager.shared_configmaps: greetings), not the"),
        ):
            with pytest.raises(AIInfnError) as info:
                await manager.submit("alice", {"command": ["true"], "volumes": [volume]})
            assert (info.value.status, info.value.field) == (403, "volumes")
            assert words in info.value.message
            assert info.value.message.endswith(repr(volume.split(":")[1]))
    finally:
        await stop_manager(manager)


async def reconciled_after_deletion(manager, job_id: str, uid: str) -> None:
    """Wait until the controller has seen the attempt's Job deleted and has finished
    reconciling the job (a job waiting in the queue, or being reconciled, holds one or the
    other of its place in the queue and its lock; the worker takes the lock as it dequeues)."""
    tracked = manager.jobs[job_id]

    def settled() -> bool:
        gone = all(j["metadata"]["uid"] != uid for j in tracked.attempts.values())
        return gone and not manager.controller.waiting(job_id) and not tracked.lock.locked()

    await wait_until(settled, timeout=60, message=f"job {job_id} reconciled after the deletion")


@pytest.mark.parametrize(
    ("command", "state", "reason"),
    [
        (["python", "-c", "print('done')"], "succeeded", "completed at Local resources"),
        (["python", "-c", "raise SystemExit(3)"], "failed", "your code exited with code 3"),
    ],
    ids=["succeeded", "user-code-failed"],
)
async def test_an_ended_job_whose_job_is_deleted_stays_ended(
    manager, api, sandbox, command, state, reason
):
    view, _ = await manager.submit("alice", {"command": command, "local_only": True})
    job_id = view["id"]
    done = await wait_for(manager, job_id)
    assert done["state"] == state and done["reason"].startswith(reason)
    await wait_until(lambda: manager.jobs[job_id].final, timeout=60, message="outcome recorded")
    final = manager.jobs[job_id].final
    assert (final["state"], final["attempt"]) == (state, 1)
    [recorded] = manager.jobs[job_id].history
    assert (recorded["site"], recorded["outcome"]) == ("local", state)
    job = manager.jobs[job_id].attempts[1]
    assert job["metadata"]["name"] == L.attempt_name(job_id, 1), "the ended attempt is kept"

    await manager.kube.delete("job", job["metadata"]["name"])  # kubectl, or a TTL policy
    await reconciled_after_deletion(manager, job_id, job["metadata"]["uid"])
    assert manager.jobs[job_id].attempts == {}, "no new attempt was created"
    status, shown = await api.call("GET", f"jobs/{job_id}")
    assert status == 200
    assert (shown["state"], shown["site"]) == (state, "local")
    assert shown["reason"] == done["reason"]
    assert shown["attempts"] == done["attempts"]
    assert shown["progress"] == done["progress"]
    assert shown["ended"] == done["ended"]
    jobs = await manager.kube.call(
        "list job",
        manager.kube.batch.list_namespaced_job,
        "default",
        label_selector=f"{L.JOB_ID}={job_id}",
    )
    assert jobs["items"] == []
