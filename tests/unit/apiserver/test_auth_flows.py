"""Authentication flows over HTTP: a bootstrap token authenticates a kubelet that asks for its certificate with a
CSR, an admin approves and issues it; and /metrics, which only admins may read."""

from __future__ import annotations

import base64
import re
import secrets
import string
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.unit.apiserver.conftest import LocalApiserver
from tests.unit.apiserver.wire import Api, request

CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
_TOKEN_CHARS = string.ascii_lowercase + string.digits


@pytest.fixture(scope="module")
def api(apiserver: LocalApiserver) -> Api:
    return Api(apiserver)


def bootstrap_token(api: Api, expires_in: timedelta = timedelta(hours=1)) -> str:
    """Create a bootstrap token Secret as an admin would (kubeadm token create) and return the token."""
    token_id = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(6))
    token_secret = "".join(secrets.choice(_TOKEN_CHARS) for _ in range(16))
    expiration = (datetime.now(UTC) + expires_in).strftime("%Y-%m-%dT%H:%M:%SZ")
    api.ok("POST", "/api/v1/namespaces/kube-system/secrets", {
        "metadata": {"name": f"bootstrap-token-{token_id}"}, "type": "bootstrap.kubernetes.io/token",
        "stringData": {"token-id": token_id, "token-secret": token_secret, "expiration": expiration,
                       "usage-bootstrap-authentication": "true", "usage-bootstrap-signing": "true"}})
    return f"{token_id}.{token_secret}"


def as_token(apiserver: LocalApiserver, token: str, method: str, path: str, body: bytes | None = None
             ) -> tuple[int, bytes]:
    code, _, data = request(apiserver, method, path, body,
                            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, who=None)
    return code, data


def csr_pem(node: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"system:node:{node}"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:nodes")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def certificate_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "system:node:node-9")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def csr_body(name: str) -> dict:
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": base64.b64encode(csr_pem("node-9").encode()).decode(),
                     "signerName": "kubernetes.io/kube-apiserver-client-kubelet",
                     "usages": ["digital signature", "client auth"],
                     "username": "admin", "groups": ["system:masters"]}}


def test_bootstrap_token_csr_flow(api: Api, apiserver: LocalApiserver) -> None:
    import json

    token = bootstrap_token(api)
    token_id = token.split(".")[0]
    code, data = as_token(apiserver, token, "POST", CSRS, json.dumps(csr_body("node-9-csr")).encode())
    assert code == 201, data
    created = json.loads(data)
    # Who asked is what the server authenticated, whatever the body claimed.
    assert created["spec"]["username"] == f"system:bootstrap:{token_id}"
    assert created["spec"]["groups"] == ["system:bootstrappers", "system:authenticated"]

    code, data = as_token(apiserver, token, "GET", f"{CSRS}/node-9-csr")
    assert code == 200 and json.loads(data)["metadata"]["uid"] == created["metadata"]["uid"]
    code, data = as_token(apiserver, token, "GET", "/api/v1/namespaces/kube-system/secrets")
    assert code == 403
    assert json.loads(data)["message"] == (f'secrets is forbidden: User "system:bootstrap:{token_id}" cannot list '
                                           'resource "secrets" in API group "" in the namespace "kube-system"')
    code, _ = as_token(apiserver, token, "PUT", f"{CSRS}/node-9-csr/approval", data)
    assert code == 403  # a bootstrapper cannot approve its own request

    approval = api.ok("GET", f"{CSRS}/node-9-csr")
    approval["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "AutoApproved",
                                          "message": "approved by test"}],
                          "certificate": base64.b64encode(b"not allowed here").decode()}
    code, approved = api.put(f"{CSRS}/node-9-csr/approval", approval)
    assert code == 200, approved
    condition = approved["status"]["conditions"][0]
    assert (condition["type"], condition["status"], condition["reason"]) == ("Approved", "True", "AutoApproved")
    assert condition["lastUpdateTime"] and condition["lastTransitionTime"]
    assert "certificate" not in approved["status"]  # /approval never issues

    issued = base64.b64encode(certificate_pem().encode()).decode()
    code, signed = api.patch(f"{CSRS}/node-9-csr/status", {"status": {"certificate": issued}})
    assert code == 200, signed
    assert signed["status"]["certificate"] == issued
    assert signed["status"]["conditions"] == approved["status"]["conditions"]

    code, data = as_token(apiserver, token, "GET", f"{CSRS}/node-9-csr")
    assert code == 200 and json.loads(data)["status"]["certificate"] == issued


def test_status_cannot_approve_and_spec_is_immutable_there(api: Api) -> None:
    created = api.ok("POST", CSRS, csr_body("self-approved"))
    created["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Sneaky"}]}
    code, status = api.put(f"{CSRS}/self-approved/status", created)
    assert code == 422 and status["reason"] == "Invalid"
    assert status["message"] == ('CertificateSigningRequest.certificates.k8s.io "self-approved" is invalid: '
                                 'status.conditions: Forbidden: updates may not add a condition of type "Approved"')
    assert "conditions" not in api.ok("GET", f"{CSRS}/self-approved").get("status", {})

    # A signer may report failure through /status; the spec stays as it was.
    code, failed = api.patch(f"{CSRS}/self-approved/status",
                             {"spec": {"usages": ["server auth"]},
                              "status": {"conditions": [{"type": "Failed", "status": "True", "reason": "Nope"}]}})
    assert code == 200, failed
    assert [c["type"] for c in failed["status"]["conditions"]] == ["Failed"]
    assert failed["spec"]["usages"] == ["digital signature", "client auth"]


def test_approval_conditions_cannot_be_removed(api: Api) -> None:
    created = api.ok("POST", CSRS, csr_body("approved-once"))
    created["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Yes"}]}
    approved = api.ok("PUT", f"{CSRS}/approved-once/approval", created)
    approved["status"]["conditions"] = []
    code, status = api.put(f"{CSRS}/approved-once/approval", approved)
    assert code == 422
    assert status["details"]["causes"] == [{"reason": "FieldValueForbidden", "field": "status.conditions",
                                            "message": 'Forbidden: updates may not remove a condition of type '
                                                       '"Approved"'}]


def test_expired_and_unusable_bootstrap_tokens_are_unauthorized(api: Api, apiserver: LocalApiserver) -> None:
    expired = bootstrap_token(api, expires_in=timedelta(seconds=-5))
    code, data = as_token(apiserver, expired, "GET", f"{CSRS}/anything")
    assert code == 401 and b'"reason":"Unauthorized"' in data
    valid = bootstrap_token(api)
    token_id, _ = valid.split(".")
    code, _ = as_token(apiserver, f"{token_id}.{'x' * 16}", "GET", f"{CSRS}/anything")
    assert code == 401
    api.ok("DELETE", f"/api/v1/namespaces/kube-system/secrets/bootstrap-token-{token_id}")
    code, _ = as_token(apiserver, valid, "GET", f"{CSRS}/anything")
    assert code == 401


# ------------------------------------------------------------------------------------------------ metrics
_LABELS = ('verb="{verb}",dry_run="{dry_run}",group="{group}",version="{version}",resource="{resource}",'
           'subresource="{subresource}",scope="{scope}",component="apiserver"')


def test_metrics_use_kube_apiserver_names(api: Api, apiserver: LocalApiserver) -> None:
    api.ok("GET", "/api/v1/namespaces/default/configmaps")
    api.ok("GET", "/apis/apps/v1/namespaces/default/deployments?limit=1")
    api.ok("POST", "/api/v1/namespaces/default/configmaps?dryRun=All", {"metadata": {"name": "dry"}})
    code, _, body = request(apiserver, "GET", "/metrics")
    assert code == 200
    text = body.decode()
    assert "# TYPE apiserver_request_duration_seconds histogram" in text
    assert "# TYPE apiserver_request_total counter" in text
    configmaps = _LABELS.format(verb="LIST", dry_run="", group="", version="v1", resource="configmaps",
                                subresource="", scope="namespace")
    assert re.search(rf"^apiserver_request_duration_seconds_bucket\{{{re.escape(configmaps)},le=\"0.005\"}} \d+$",
                     text, re.M)
    assert re.search(rf"^apiserver_request_duration_seconds_bucket\{{{re.escape(configmaps)},le=\"\+Inf\"}} \d+$",
                     text, re.M)
    assert re.search(rf"^apiserver_request_duration_seconds_count\{{{re.escape(configmaps)}}} \d+$", text, re.M)
    assert re.search(rf'^apiserver_request_total\{{{re.escape(configmaps)},code="200"}} [1-9]\d*$', text, re.M)
    deployments = _LABELS.format(verb="LIST", dry_run="", group="apps", version="v1", resource="deployments",
                                 subresource="", scope="namespace")
    assert f'apiserver_request_total{{{deployments},code="200"}}' in text
    dry = _LABELS.format(verb="POST", dry_run="All", group="", version="v1", resource="configmaps",
                         subresource="", scope="namespace")
    assert f'apiserver_request_total{{{dry},code="201"}} 1' in text


def test_metrics_count_buckets_cumulatively(apiserver: LocalApiserver) -> None:
    text = request(apiserver, "GET", "/metrics")[2].decode()
    series: dict[str, list[int]] = {}
    for labels, count in re.findall(r'^apiserver_request_duration_seconds_bucket\{(.*),le="[^"]+"} (\d+)$', text,
                                    re.M):
        series.setdefault(labels, []).append(int(count))
    assert series
    for counts in series.values():
        assert counts == sorted(counts) and len(counts) == 24  # 23 bounds and +Inf


@pytest.mark.parametrize("who", ["nobody", "node"])
def test_metrics_are_forbidden_to_others(apiserver: LocalApiserver, who: str) -> None:
    code, _, body = request(apiserver, "GET", "/metrics", who=who)
    assert code == 403 and b'"reason":"Forbidden"' in body
    assert request(apiserver, "GET", "/metrics", who=None)[0] == 401
