"""The whole CVM lifecycle of seed 000 ("CVM Lifecycle", Python SDK) run by the official SDK, unchanged, at its
default API version, against the server named by PHALA_CLOUD_API_PREFIX / PHALA_CLOUD_API_KEY (the simulator, in
test/integration/sim-python-sdk.test.ts). Each step prints one JSON line `{"step": …}`; any failed expectation
raises, so the exit code is non-zero and the traceback names the step. Run by the vitest test, not by pytest."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import phala_cloud
from dstack_sdk import EnvVar
from phala_cloud import ApiError, PhalaCloud, encrypt_env_vars

COMPOSE = "services:\n  app:\n    image: nginx:latest\n    environment:\n      - GREETING=${GREETING}\n"


def report(step: str, **fields: object) -> None:
    print(json.dumps({"step": step, **fields}), flush=True)


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def watch(client: PhalaCloud, ident: dict, target: str) -> str:
    # The seed's arguments: target, timeout 120, max_retries 3 (interval and retry_delay at their defaults).
    state = client.watch_cvm_state({**ident, "target": target, "timeout": 120, "max_retries": 3})
    status = str(getattr(state, "status", ""))
    expect(status.lower() == target.lower(), f"watch for {target} ended in {status!r}")
    return status


def main() -> None:
    client = PhalaCloud()
    version = client.config.version
    expect(version == phala_cloud.DEFAULT_API_VERSION, "the client must run at the SDK's default version")
    report("client", version=version, sdk=phala_cloud.__name__)

    nodes = client.get_available_nodes()
    node_ids = [n.teepod_id for n in nodes.nodes]
    expect(3 in node_ids, f"seed 000 provisions on teepod 3; nodes are {node_ids}")

    provision = client.provision_cvm(
        {
            "name": "py-lifecycle",
            "compose_file": {"docker_compose_file": COMPOSE, "allowed_envs": ["GREETING"]},
            "vcpu": 2,
            "memory": 2048,
            "disk_size": 20,
            "teepod_id": 3,
        }
    )
    expect(len(provision.compose_hash) == 64, "provision returns a compose hash")
    report("provision", app_id=provision.app_id, compose_hash=provision.compose_hash)

    # phala_cloud re-exports dstack-sdk's encrypt_env_vars, a coroutine taking dstack-sdk EnvVar pairs.
    pairs = [EnvVar(key="GREETING", value="hello")]
    encrypted = asyncio.run(encrypt_env_vars(pairs, provision.app_env_encrypt_pubkey))
    commit_body = {"app_id": provision.app_id, "compose_hash": provision.compose_hash, "encrypted_env": encrypted}
    cvm = client.commit_cvm_provision(commit_body)
    expect(isinstance(cvm.id, str) and cvm.id.startswith("cvm_"), f"commit id is a hashid, got {cvm.id!r}")
    again = client.commit_cvm_provision(commit_body)
    expect(again.id == cvm.id, f"a second commit names the same CVM ({again.id} != {cvm.id})")
    report("commit", id=cvm.id, status=cvm.status, again=again.id)

    ident = {"id": cvm.id}
    report("watch", status=watch(client, ident, "Running"))

    forms = {
        "id": cvm.id,
        "cvm_id": cvm.id,
        "cvmId": cvm.id,
        "uuid": cvm.vm_uuid,
        "app_id": cvm.app_id,
        "instance_id": cvm.instance_id,
    }
    seen = {}
    for field, value in [*forms.items(), ("id", "py-lifecycle")]:
        info = client.get_cvm_info({field: value})
        expect(info.id == cvm.id, f"get_cvm_info by {field}={value} found {info.id}")
        seen[field if value != "py-lifecycle" else "name"] = info.status
    report("get", forms=sorted(seen))

    for action, target in [("shutdown", "Stopped"), ("start", "Running"), ("stop", "Stopped"), ("start", "Running")]:
        result = getattr(client, f"{action}_cvm")(ident)
        expect(result.id == cvm.id, f"{action} answers the CVM's hashid, got {result.id!r}")
        report(action, status=result.status, reached=watch(client, ident, target))

    restarted = client.restart_cvm({**ident, "force": True})
    expect(restarted.id == cvm.id, f"restart answers the CVM's hashid, got {restarted.id!r}")
    report("restart", status=restarted.status, reached=watch(client, ident, "Running"))

    replica = client.replicate_cvm({**ident, "node_id": 3})
    expect(replica.id.startswith("cvm_") and replica.id != cvm.id, f"replica has its own hashid: {replica.id}")
    expect(replica.app_id == cvm.app_id, "a replica keeps the app id")
    report("replicate", id=replica.id, reached=watch(client, {"id": replica.id}, "Running"))

    listed = client.get_cvm_list()
    ids = {item.id for item in listed.items}
    expect({cvm.id, replica.id} <= ids, f"the list holds the CVM and its replica: {sorted(ids)}")
    # Sized by vcpu/memory (the seed's request), so no instance type: in the cpu family, outside any type filter.
    cpu = client.get_cvm_list({"family": "cpu"})
    expect({cvm.id, replica.id} <= {item.id for item in cpu.items}, "family=cpu holds the CVMs")
    typed = client.get_cvm_list({"instance_types": ["tdx.medium", "tdx.large"]})
    expect(not ({cvm.id, replica.id} & {item.id for item in typed.items}), "instance_types leaves them out")
    family = cpu
    report("list", total=listed.total, filtered=family.total)

    for target in (replica.id, cvm.id):
        client.delete_cvm({"id": target})
    deadline = time.monotonic() + 30
    gone: set[str] = set()
    while len(gone) < 2:
        expect(time.monotonic() < deadline, f"deleted CVMs still answer: {sorted({cvm.id, replica.id} - gone)}")
        for target in {cvm.id, replica.id} - gone:
            try:
                client.get_cvm_info({"id": target})
            except ApiError as err:
                expect(getattr(err, "status_code", None) == 404, f"after delete: {err}")
                gone.add(target)
        time.sleep(0.05)
    report("delete", gone=sorted(gone))
    report("done")


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # one line the test can show, then the traceback for a human
        print(json.dumps({"step": "failed", "error": f"{type(err).__name__}: {err}"}), flush=True)
        raise
    sys.exit(0)
