"""Cross-manifest checks the Kubernetes schemas cannot make.

Usage: python3 check_references.py SMOKE_CONFIG MANIFEST...

Checks that every volumeMount names a volume of its pod; every ConfigMap,
Secret and PersistentVolumeClaim a pod uses, and every key it projects, is
defined in the manifests; the Service selects the coordinator pods and its
targetPort names a container port; the workers' Job is Indexed with
completions == parallelism; every container sets OPENBLAS_NUM_THREADS=1 and
has CPU and memory requests and limits; the ConfigMap's train.yaml equals
SMOKE_CONFIG (so the two cannot drift apart). Prints each problem and exits 1
if there is any.
"""
import sys

import yaml


def main() -> int:
    smoke_path, paths = sys.argv[1], sys.argv[2:]
    documents = []
    for path in paths:
        with open(path, encoding="utf-8") as handle:
            documents += [(path, d) for d in yaml.safe_load_all(handle) if d]
    problems = []
    by_kind = {}
    for path, doc in documents:
        by_kind.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc

    def pod_specs():
        for path, doc in documents:
            if doc["kind"] == "Job":
                yield path, doc, doc["spec"]["template"]

    for path, job, template in pod_specs():
        spec = template["spec"]
        name = job["metadata"]["name"]
        volumes = {v["name"]: v for v in spec.get("volumes", [])}
        containers = spec.get("initContainers", []) + spec["containers"]
        for container in containers:
            where = f"{path}: job {name}, container {container['name']}"
            for mount in container.get("volumeMounts", []):
                if mount["name"] not in volumes:
                    problems.append(f"{where}: mounts undefined volume {mount['name']}")
            resources = container.get("resources", {})
            for part in ("requests", "limits"):
                for resource in ("cpu", "memory"):
                    if resource not in resources.get(part, {}):
                        problems.append(f"{where}: no {part}.{resource}")
        for container in spec["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            if env.get("OPENBLAS_NUM_THREADS") != "1":
                problems.append(f"{path}: job {name}, container {container['name']}: OPENBLAS_NUM_THREADS is not 1")
        for volume in volumes.values():
            for kind, field, key_field in (("ConfigMap", "configMap", "name"),
                                           ("Secret", "secret", "secretName"),
                                           ("PersistentVolumeClaim", "persistentVolumeClaim", "claimName")):
                if field not in volume:
                    continue
                ref = volume[field][key_field]
                target = by_kind.get(kind, {}).get(ref)
                if target is None:
                    problems.append(f"{path}: job {name}, volume {volume['name']}: {kind} {ref} is not defined")
                    continue
                for item in volume[field].get("items", []):
                    data = dict(target.get("data") or {}, **(target.get("stringData") or {}))
                    if item["key"] not in data:
                        problems.append(f"{path}: job {name}, volume {volume['name']}: {kind} {ref} has no key {item['key']}")
        labels = template["metadata"].get("labels", {})
        for service in by_kind.get("Service", {}).values():
            selector = service["spec"].get("selector", {})
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                ports = {p.get("name") for c in spec["containers"] for p in c.get("ports", [])}
                ports |= {p["containerPort"] for c in spec["containers"] for p in c.get("ports", [])}
                for port in service["spec"]["ports"]:
                    if port.get("targetPort", port["port"]) not in ports:
                        problems.append(f"service {service['metadata']['name']}: targetPort {port.get('targetPort')} is no port of job {name}")

    services = by_kind.get("Service", {})
    coordinator_labels = [j["spec"]["template"]["metadata"]["labels"] for n, j in by_kind.get("Job", {}).items()
                          if j["metadata"]["labels"].get("app.kubernetes.io/component") == "coordinator"]
    if not coordinator_labels:
        problems.append("no coordinator Job (label app.kubernetes.io/component: coordinator)")
    for service in services.values():
        selector = service["spec"]["selector"]
        if not any(all(l.get(k) == v for k, v in selector.items()) for l in coordinator_labels):
            problems.append(f"service {service['metadata']['name']} selects no coordinator pod")
    workers = [j for j in by_kind.get("Job", {}).values()
               if j["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"]
    if not workers:
        problems.append("no worker Job (label app.kubernetes.io/component: worker)")
    for job in workers:
        spec = job["spec"]
        if spec.get("completionMode") != "Indexed":
            problems.append(f"job {job['metadata']['name']}: completionMode is not Indexed")
        if spec.get("completions") != spec.get("parallelism"):
            problems.append(f"job {job['metadata']['name']}: completions != parallelism (workers would wait for each other)")

    configmap = by_kind.get("ConfigMap", {}).get("conaclip-config")
    if configmap is None:
        problems.append("ConfigMap conaclip-config is not defined")
    else:
        with open(smoke_path, encoding="utf-8") as handle:
            smoke = yaml.safe_load(handle)
        if yaml.safe_load(configmap["data"]["train.yaml"]) != smoke:
            problems.append(f"ConfigMap conaclip-config train.yaml differs from {smoke_path}")

    for problem in problems:
        print(f"references: {problem}")
    print(f"references: {len(documents)} objects, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
