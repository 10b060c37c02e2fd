"""The official Python SDK's KMS calls against the simulator (test/integration/sim-python-sdk.test.ts): the
contract-centric list and detail of API version 2026-06-23, and the node-centric list and detail the SDK keeps by
pinning 2026-05-22 per request. One JSON line per step; a failed expectation raises (non-zero exit)."""

from __future__ import annotations

import json

from phala_cloud import PhalaCloud


def report(step: str, **fields: object) -> None:
    print(json.dumps({"step": step, **fields}), flush=True)


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise AssertionError(what)


def main() -> None:
    client = PhalaCloud()
    contracts = client.list_kms_contracts()
    expect(contracts.total == len(contracts.items) >= 1, "at least one KMS contract")
    phala = next(c for c in contracts.items if c.slug == "phala")
    expect(phala.contract_address == "phala" and phala.chain_id == 0, "the Phala KMS is the off-chain contract")
    for ident in (phala.slug, phala.id):
        got = client.get_kms_contract(ident)
        expect(got.id == phala.id and got.node_count == phala.node_count, f"get_kms_contract({ident})")
    report("contracts", ids=[c.id for c in contracts.items], node_count=phala.node_count)

    nodes = client.get_kms_list()
    expect(len(nodes.items) >= phala.node_count, "the legacy list names every KMS node")
    node = client.get_kms_info({"kms_id": nodes.items[0].id})
    expect(node.url == nodes.items[0].url, "get_kms_info finds the node")
    report("nodes", ids=[n.id for n in nodes.items])


if __name__ == "__main__":
    main()
