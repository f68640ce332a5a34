"""Runs the Kubernetes manifests' pods on this machine, without Kubernetes.

Usage (root; Deploy/kubernetes/test-pods.sh calls it):
    python3 run_pods.py --rootfs DIR --work DIR --containerfile FILE [--timeout S] [--grace S] MANIFEST...

What a kubelet would do, done with Linux tools, so that the manifests' own
command lines, environment, volumes and security settings are what runs:
- the image is a root filesystem with the runtime stage's contents
  (Deploy/container/make-rootfs.sh); its ENTRYPOINT, CMD, WORKDIR and ENV are
  read from the Containerfile;
- each pod gets a network namespace with its own address on a bridge (in a
  separate namespace), and an /etc/hosts in which every Service name
  resolves to the address of the pod it selects (the Service's port must
  equal its target port: there is no kube-proxy);
- volumes: ConfigMap and Secret volumes are written the kubelet's way
  (`..data` symlinks, `defaultMode`, group `fsGroup`), emptyDir is a fresh
  0777 directory, a PersistentVolumeClaim a directory shared by the pods;
- each container runs in its own mount namespace: the root filesystem
  mounted read-only when `readOnlyRootFilesystem`, the volumes bind-mounted
  at their `mountPath` (read-only when asked), then `chroot` as
  `runAsUser:runAsGroup` with `fsGroup` as supplementary group, `env -i` with
  the image's and the container's environment (`fieldRef` to the job
  completion index resolved), `$(VAR)` expanded in command and args;
- init containers run to completion first; then every pod's main container
  runs at once: the coordinator Job's one pod and `completions` worker pods
  (JOB_COMPLETION_INDEX 0..N-1).
Not emulated: resource limits, probes, restarts, scheduling.

Exits 0 when every container exited 0: the coordinator within the timeout,
the workers within --grace seconds after it (else the Indexed Job would not
complete); prints where the
PersistentVolumeClaims' directories are (`pvc NAME DIR`).
"""
import argparse
import base64
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time

import yaml

SUBNET = "10.212.0"


def say(text):
    print(f"run-pods: {text}", flush=True)


def image_settings(containerfile):
    """ENTRYPOINT, CMD, WORKDIR and ENV of the Containerfile's last stage."""
    settings = {"entrypoint": [], "cmd": [], "workdir": "/", "env": {}}
    for line in open(containerfile, encoding="utf-8").read().replace("\\\n", " ").splitlines():
        words = line.strip().split(None, 1)
        if not words:
            continue
        keyword, rest = words[0].upper(), (words[1] if len(words) > 1 else "")
        if keyword == "FROM":
            settings = {"entrypoint": [], "cmd": [], "workdir": "/", "env": {}}
        elif keyword in ("ENTRYPOINT", "CMD"):
            settings[keyword.lower()] = json.loads(rest)
        elif keyword == "WORKDIR":
            settings["workdir"] = rest.strip()
        elif keyword == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                settings["env"][key] = value
    return settings


def expand(text, env):
    """Kubernetes' $(VAR) expansion ($$ escapes)."""
    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)), text)


def write_projected(directory, files, mode, group):
    """A ConfigMap/Secret volume as the kubelet writes it: files in a
    timestamped directory, `..data` pointing at it, and symlinks to `..data/NAME`."""
    stamp = os.path.join(directory, "..2026_01_01_00_00_00.000000000")
    os.makedirs(stamp)
    for name, content in files.items():
        path = os.path.join(stamp, name)
        with open(path, "wb") as handle:
            handle.write(content)
        os.chown(path, 0, group if group is not None else 0)
        os.chmod(path, mode | (0o440 if group is not None else 0))
    os.symlink(os.path.basename(stamp), os.path.join(directory, "..data"))
    for name in files:
        os.symlink(os.path.join("..data", name), os.path.join(directory, name))
    os.chmod(directory, 0o1777)  # the kubelet's tmpfs for these volumes is drwxrwxrwt


class Cluster:
    def __init__(self, args):
        self.args = args
        self.namespaces = []
        self.processes = []
        self.tag = str(os.getpid())

    # ---- network ---------------------------------------------------------
    def run(self, *command):
        subprocess.run(command, check=True)

    def make_network(self, pods):
        switch = f"kp-sw-{self.tag}"
        self.run("ip", "netns", "add", switch)
        self.namespaces.append(switch)
        self.run("ip", "-n", switch, "link", "add", "br0", "type", "bridge")
        self.run("ip", "-n", switch, "link", "set", "br0", "up")
        for number, pod in enumerate(pods, start=1):
            namespace = f"kp-{number}-{self.tag}"
            self.run("ip", "netns", "add", namespace)
            self.namespaces.append(namespace)
            self.run("ip", "-n", switch, "link", "add", f"port{number}", "type", "veth", "peer", "name", "eth0", "netns", namespace)
            self.run("ip", "-n", switch, "link", "set", f"port{number}", "master", "br0", "up")
            self.run("ip", "-n", namespace, "link", "set", "lo", "up")
            pod["ip"] = f"{SUBNET}.{10 + number}"
            self.run("ip", "-n", namespace, "addr", "add", pod["ip"] + "/24", "dev", "eth0")
            self.run("ip", "-n", namespace, "link", "set", "eth0", "up")
            pod["netns"] = namespace

    # ---- containers ------------------------------------------------------
    def container_command(self, pod, container, image):
        spec = pod["spec"]
        pod_security = spec.get("securityContext", {})
        security = container.get("securityContext", {})
        user = security.get("runAsUser", pod_security.get("runAsUser", 0))
        group = security.get("runAsGroup", pod_security.get("runAsGroup", 0))
        fs_group = pod_security.get("fsGroup")
        env = dict(image["env"])
        env.setdefault("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        env["HOSTNAME"] = pod["name"]
        for item in container.get("env", []):
            if "value" in item:
                env[item["name"]] = expand(item["value"], env)
            else:
                path = item["valueFrom"]["fieldRef"]["fieldPath"]
                if path != "metadata.annotations['batch.kubernetes.io/job-completion-index']" or pod["index"] is None:
                    raise SystemExit(f"run-pods: cannot resolve fieldRef {path} in pod {pod['name']}")
                env[item["name"]] = str(pod["index"])
        if pod["index"] is not None:
            env.setdefault("JOB_COMPLETION_INDEX", str(pod["index"]))
        if "command" in container:
            argv = container["command"] + container.get("args", [])
        else:
            argv = image["entrypoint"] + container.get("args", image["cmd"])
        argv = [expand(word, env) for word in argv]
        workdir = container.get("workingDir", image["workdir"])
        rootfs = self.args.rootfs
        lines = ["set -eu", f"R={shlex.quote(rootfs)}", 'mount --bind "$R" "$R"']
        if security.get("readOnlyRootFilesystem"):
            lines.append('mount -o remount,bind,ro "$R"')
        lines += ['mount -t proc proc "$R/proc"', 'mount --bind /dev "$R/dev"',
                  f'mount --bind {shlex.quote(pod["hosts"])} "$R/etc/hosts"']
        for mount in container.get("volumeMounts", []):
            source = pod["volumes"][mount["name"]]
            target = '"$R"' + shlex.quote(mount["mountPath"])
            lines.append(f"mount --bind {shlex.quote(source)} {target}")
            if mount.get("readOnly"):
                lines.append(f"mount -o remount,bind,ro {target}")
        groups = f" --groups={fs_group}" if fs_group is not None else ""
        environment = " ".join(shlex.quote(f"{k}={v}") for k, v in env.items())
        lines.append(f'exec chroot --userspec={user}:{group}{groups} "$R" /usr/bin/env -i -C {shlex.quote(workdir)} '
                     f'{environment} "$@"')
        return ["ip", "netns", "exec", pod["netns"], "unshare", "--mount", "--propagation", "private",
                "bash", "-c", "\n".join(lines), "container"] + argv

    def start(self, pod, container, image):
        log = open(os.path.join(self.args.work, f"{pod['name']}.{container['name']}.log"), "wb")
        command = self.container_command(pod, container, image)
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def cleanup(self):
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for process in self.processes:
            try:
                process.wait(max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], check=False)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rootfs", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--containerfile", required=True)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--grace", type=float, default=60, help="seconds workers get to exit after the coordinator")
    parser.add_argument("manifests", nargs="+")
    args = parser.parse_args()
    image = image_settings(args.containerfile)

    objects = {}
    for path in args.manifests:
        with open(path, encoding="utf-8") as handle:
            for doc in yaml.safe_load_all(handle):
                if doc:
                    objects.setdefault(doc["kind"], {})[doc["metadata"]["name"]] = doc
    jobs = objects.get("Job", {})
    coordinator = [j for j in jobs.values() if j["metadata"]["labels"].get("app.kubernetes.io/component") == "coordinator"]
    workers = [j for j in jobs.values() if j["metadata"]["labels"].get("app.kubernetes.io/component") == "worker"]
    if len(coordinator) != 1 or len(workers) != 1:
        raise SystemExit("run-pods: expected one coordinator Job and one worker Job")
    pods = [{"name": coordinator[0]["metadata"]["name"] + "-0", "job": coordinator[0], "index": None}]
    worker_job = workers[0]
    if worker_job["spec"].get("completionMode") != "Indexed":
        raise SystemExit("run-pods: the worker Job is not Indexed")
    for index in range(worker_job["spec"]["completions"]):
        pods.append({"name": f"{worker_job['metadata']['name']}-{index}", "job": worker_job, "index": index})
    for pod in pods:
        pod["spec"] = pod["job"]["spec"]["template"]["spec"]
        pod["labels"] = pod["job"]["spec"]["template"]["metadata"].get("labels", {})

    cluster = Cluster(args)

    def stop(signum, frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        cluster.make_network(pods)
        # Services: name -> the address of the pod they select.
        hosts = ["127.0.0.1 localhost"]
        for service in objects.get("Service", {}).values():
            selector = service["spec"]["selector"]
            chosen = [p for p in pods if all(p["labels"].get(k) == v for k, v in selector.items())]
            if len(chosen) != 1:
                raise SystemExit(f"run-pods: service {service['metadata']['name']} selects {len(chosen)} pods")
            for port in service["spec"]["ports"]:
                target = port.get("targetPort", port["port"])
                if isinstance(target, str):
                    target = next(p["containerPort"] for c in chosen[0]["spec"]["containers"] for p in c.get("ports", [])
                                  if p.get("name") == target)
                if target != port["port"]:
                    raise SystemExit(f"run-pods: service port {port['port']} != target port {target}: not emulated")
            hosts.append(f"{chosen[0]['ip']} {service['metadata']['name']}")
            say(f"service {service['metadata']['name']} -> pod {chosen[0]['name']} ({chosen[0]['ip']})")
        # Volumes.
        claims = {}
        for pod in pods:
            spec = pod["spec"]
            fs_group = spec.get("securityContext", {}).get("fsGroup")
            base = os.path.join(args.work, "pods", pod["name"])
            os.makedirs(base)
            pod["hosts"] = os.path.join(base, "hosts")
            with open(pod["hosts"], "w", encoding="utf-8") as handle:
                handle.write("\n".join(hosts + [f"{pod['ip']} {pod['name']}"]) + "\n")
            pod["volumes"] = {}
            for volume in spec.get("volumes", []):
                directory = os.path.join(base, "volumes", volume["name"])
                if "configMap" in volume or "secret" in volume:
                    source = volume.get("configMap") or volume.get("secret")
                    if "configMap" in volume:
                        data = {k: v.encode() for k, v in objects["ConfigMap"][source["name"]]["data"].items()}
                    else:
                        secret = objects["Secret"][source["secretName"]]
                        data = {k: base64.b64decode(v) for k, v in (secret.get("data") or {}).items()}
                        data.update({k: v.encode() for k, v in (secret.get("stringData") or {}).items()})
                    items = source.get("items") or [{"key": k, "path": k} for k in data]
                    os.makedirs(directory)
                    write_projected(directory, {i["path"]: data[i["key"]] for i in items}, source.get("defaultMode", 0o644), fs_group)
                elif "emptyDir" in volume:
                    os.makedirs(directory)
                    os.chmod(directory, 0o777)
                elif "persistentVolumeClaim" in volume:
                    claim = volume["persistentVolumeClaim"]["claimName"]
                    if claim not in objects.get("PersistentVolumeClaim", {}):
                        raise SystemExit(f"run-pods: claim {claim} is not defined")
                    directory = claims.setdefault(claim, os.path.join(args.work, "pvc", claim))
                    os.makedirs(directory, exist_ok=True)
                    if fs_group is not None:
                        os.chown(directory, 0, fs_group)
                    os.chmod(directory, 0o2775)
                else:
                    raise SystemExit(f"run-pods: volume type of {volume['name']} is not emulated")
                pod["volumes"][volume["name"]] = directory
            for container in spec.get("initContainers", []) + spec["containers"]:
                for mount in container.get("volumeMounts", []):
                    os.makedirs(args.rootfs + mount["mountPath"], exist_ok=True)
        # The container runtime mounts /etc/hosts; the image need not have one.
        open(os.path.join(args.rootfs, "etc", "hosts"), "a").close()
        for claim, directory in claims.items():
            print(f"pvc {claim} {directory}", flush=True)

        deadline = time.time() + args.timeout
        # Init containers, pod by pod, each to completion.
        for pod in pods:
            for container in pod["spec"].get("initContainers", []):
                process = cluster.start(pod, container, image)
                status = process.wait(max(1, deadline - time.time()))
                say(f"pod {pod['name']}: init container {container['name']} exited {status}")
                if status != 0:
                    return 1
        # Main containers, all at once.
        running = []
        for pod in pods:
            for container in pod["spec"]["containers"]:
                running.append((pod["name"], container["name"], cluster.start(pod, container, image)))
        say(f"started {len(running)} containers: " + ", ".join(f"{p}/{c}" for p, c, _ in running))
        # The coordinator first; then the workers get --grace seconds to exit by
        # themselves, as they must for the Indexed Job to complete.
        failed = False
        for number, (pod_name, container_name, process) in enumerate(running):
            limit = deadline - time.time() if number == 0 else min(deadline - time.time(), args.grace)
            try:
                status = process.wait(max(1, limit))
            except subprocess.TimeoutExpired:
                if number == 0:
                    say(f"pod {pod_name}: {container_name} still running after {args.timeout:.0f} s")
                else:
                    say(f"pod {pod_name}: {container_name} still running {args.grace:.0f} s after the coordinator "
                        "exited: the worker Job would not complete")
                failed = True
                continue
            say(f"pod {pod_name}: container {container_name} exited {status}")
            failed = failed or status != 0
        return 1 if failed else 0
    finally:
        cluster.cleanup()


if __name__ == "__main__":
    sys.exit(main())
