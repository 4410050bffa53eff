#!/usr/bin/env python3
"""Turns rendered Cohort Kubernetes manifests into YAML that `podman kube play` (4.3) runs.

Podman plays Pods, Deployments and PersistentVolumeClaims, but not StatefulSets, and it crashes
on Secret volumes. So for the local test: a StatefulSet becomes a Pod with a claim per volume
template; Secret references become the literal token and a host folder holding ca.crt; the site's
data claim becomes a host folder; probes are dropped (podman would run curl, which the image lacks);
Namespaces and Services are dropped (podman has neither), so a node's name gets its namespace
as a prefix and the server address becomes SERVER_HOST.

usage: kube_to_podman.py RENDERED.yaml OUT.yaml [--server-host NAME] [--token T] [--ca-dir DIR] [--site-data DIR]
"""
import argparse
import sys

import yaml


def convert(doc, args):
    kind = doc.get("kind")
    if kind in ("Namespace", "Service"):
        return []
    if kind == "StatefulSet":
        spec = doc["spec"]
        claims = []
        for template in spec.get("volumeClaimTemplates", []):
            name = template["metadata"]["name"]
            claims.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                           "metadata": {"name": f"{doc['metadata']['name']}-{name}"}, "spec": template["spec"]})
            spec["template"]["spec"].setdefault("volumes", []).append(
                {"name": name, "persistentVolumeClaim": {"claimName": f"{doc['metadata']['name']}-{name}"}})
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": doc["metadata"]["name"], "labels": spec["template"]["metadata"].get("labels", {})},
               "spec": spec["template"]["spec"]}
        return claims + [fix_pod_spec(pod["spec"], args) and pod]
    if kind == "Deployment":
        # Every site's node is "cohort-node" in its own namespace; podman has one namespace.
        if "namespace" in doc["metadata"]:
            doc["metadata"]["name"] = f"{doc['metadata'].pop('namespace')}-{doc['metadata']['name']}"
        fix_pod_spec(doc["spec"]["template"]["spec"], args)
        return [doc]
    if kind == "PersistentVolumeClaim" and doc["metadata"]["name"] == "cohort-site-data":
        return []
    return [doc]


def fix_pod_spec(spec, args):
    for container in spec["containers"]:
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            container.pop(probe, None)
        container["args"] = [a.replace("cohort-server.cohort-coordinator.svc", args.server_host) for a in container["args"]]
        for env in container.get("env", []):
            if "secretKeyRef" in env.get("valueFrom", {}):
                env.pop("valueFrom")
                env["value"] = args.token
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            volume.pop("secret")
            volume["hostPath"] = {"path": args.ca_dir, "type": "Directory"}
        elif volume.get("persistentVolumeClaim", {}).get("claimName") == "cohort-site-data":
            volume.pop("persistentVolumeClaim")
            volume["hostPath"] = {"path": args.site_data, "type": "Directory"}
    return True


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rendered")
    parser.add_argument("out")
    parser.add_argument("--server-host", default="cohort-server")
    parser.add_argument("--token", default="")
    parser.add_argument("--ca-dir", default="")
    parser.add_argument("--site-data", default="")
    args = parser.parse_args()
    with open(args.rendered) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    out = [c for d in docs for c in convert(d, args)]
    if not out:
        sys.exit(f"{args.rendered}: nothing podman can play")
    with open(args.out, "w") as f:
        yaml.safe_dump_all(out, f, sort_keys=False)


if __name__ == "__main__":
    main()
