"""Label and field selectors: parsing, canonical strings, matching and the errors kube-apiserver answers."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.services.api import resources
from provisioner.services.api.selectors import (
    EVERYTHING,
    NOTHING,
    FieldRequirement,
    LabelSelector,
    escape_field_value,
    field_value,
    label_key_errors,
    label_selector_from_dict,
    label_value_errors,
    new_requirement,
    parse_field_selector,
    parse_label_selector,
    selector_from_labels,
    selector_string_from_labels,
    unescape_field_value,
)
from provisioner.services.api.status import ApiError


def query_value(query: str, name: str) -> str:
    """A query parameter exactly as the apiserver receives it from kubectl's URL."""
    return parse_qs(query, keep_blank_values=True)[name][0]


def api_error(call, *args) -> ApiError:
    with pytest.raises(ApiError) as caught:
        call(*args)
    return caught.value


# --- label selectors: the contract's recorded queries -------------------------------------------------------

RECORDED_LABEL_QUERIES = [
    # kubectl get pods -l 'app=web,tier notin (db)'
    ("labelSelector=app%3Dweb%2Ctier+notin+%28db%29&limit=500", "app=web,tier notin (db)"),
    # kubectl logs deploy/web, rollout history, describe deployment
    ("labelSelector=app%3Dweb", "app=web"),
    # describe svc web -> EndpointSlices
    ("labelSelector=kubernetes.io%2Fservice-name%3Dweb", "kubernetes.io/service-name=web"),
]


@pytest.mark.parametrize(("query", "canonical"), RECORDED_LABEL_QUERIES)
def test_recorded_kubectl_label_selectors_parse(query: str, canonical: str) -> None:
    assert str(parse_label_selector(query_value(query, "labelSelector"))) == canonical


def test_recorded_tier_notin_selector_matches_like_kubernetes() -> None:
    selector = parse_label_selector("app=web,tier notin (db)")
    assert selector.matches({"app": "web", "tier": "frontend"})
    assert selector.matches({"app": "web"})  # notin matches a missing key
    assert not selector.matches({"app": "web", "tier": "db"})
    assert not selector.matches({"app": "api", "tier": "frontend"})
    assert not selector.matches({})


# --- label selectors: syntax --------------------------------------------------------------------------------

CANONICAL_FORMS = [
    ("", ""),
    ("   ", ""),
    ("a", "a"),
    ("!a", "!a"),
    ("a=b", "a=b"),
    ("a==b", "a==b"),
    ("a!=b", "a!=b"),
    ("a=", "a="),  # the empty value
    ("a in (y,x,x)", "a in (x,y)"),  # values sorted and unique
    ("a notin (x)", "a notin (x)"),
    ("a in ()", "a in ()"),  # the set holding ""
    ("x in (foo,,baz),y,z notin ()", "x in (,baz,foo),y,z notin ()"),
    ("a in (,b)", "a in (,b)"),
    ("a in (b,)", "a in (,b)"),
    ("a>5", "a>5"),
    ("a<5", "a<5"),
    ("z=1,a=2,m", "a=2,m,z=1"),  # requirements sorted by key
    (" a = b ,\tc  in ( x , y ) ,\n!d ", "a=b,c in (x,y),!d"),
    ("in=notin", "in=notin"),  # keywords are ordinary keys and values outside the operator slot
    ("a in (in,notin)", "a in (in,notin)"),
    ("example.com/a-b_c.d=V.1_x-Y", "example.com/a-b_c.d=V.1_x-Y"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL_FORMS)
def test_label_selector_canonical_string(text: str, canonical: str) -> None:
    assert str(parse_label_selector(text)) == canonical


def test_requirements_keep_operator_and_values() -> None:
    selector = parse_label_selector("b in (y,x),a==1,!c")
    assert [(r.key, r.operator, r.values) for r in selector.requirements] == [
        ("a", "==", ("1",)), ("b", "in", ("x", "y")), ("c", "!", ())]


def test_empty_selector_matches_everything_and_is_empty() -> None:
    selector = parse_label_selector("")
    assert selector.empty and selector == EVERYTHING
    assert selector.matches({}) and selector.matches(None) and selector.matches({"a": "b"})


MATCHES = [
    ("a", {"a": ""}, True),
    ("a", {"b": "x"}, False),
    ("!a", {"b": "x"}, True),
    ("!a", {"a": "x"}, False),
    ("a=b", {"a": "b"}, True),
    ("a=b", {"a": "c"}, False),
    ("a=b", {}, False),
    ("a==b", {"a": "b"}, True),
    ("a!=b", {"a": "c"}, True),
    ("a!=b", {}, True),
    ("a!=b", {"a": "b"}, False),
    ("a=", {"a": ""}, True),
    ("a=", {}, False),
    ("a in (x,y)", {"a": "y"}, True),
    ("a in (x,y)", {"a": "z"}, False),
    ("a in (x,y)", {}, False),
    ("a notin (x,y)", {"a": "z"}, True),
    ("a notin (x,y)", {"a": "x"}, False),
    ("a notin (x,y)", {}, True),
    ("a in ()", {"a": ""}, True),
    ("a>5", {"a": "6"}, True),
    ("a>5", {"a": "5"}, False),
    ("a>5", {"a": "abc"}, False),  # a value that is not an integer never compares
    ("a>5", {}, False),
    ("a<5", {"a": "-7"}, True),
    ("a<5", {"a": "+4"}, True),
    ("a<5", {"a": "99999999999999999999"}, False),  # beyond int64
    ("a=b,c", {"a": "b", "c": "1"}, True),
    ("a=b,c", {"a": "b"}, False),
]


@pytest.mark.parametrize(("text", "labels", "expected"), MATCHES)
def test_label_selector_matching(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


QUALIFIED_NAME_RULE = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                       "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                       "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
LABEL_VALUE_RULE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
                    "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
                    "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")

SYNTAX_ERRORS = [
    ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ("a=b,", "found '', expected: identifier after ','"),
    ("a=b,,c", "found ',', expected: identifier after ','"),
    (",a", "found ',', expected: !, identifier, or 'end of string'"),
    ("=a", "found '=', expected: !, identifier, or 'end of string'"),
    ("a in b", "unable to parse requirement: found 'b' expected: '('"),
    ("a in (b", "unable to parse requirement: found '', expected: ',' or ')'"),
    ("a in (b c)", "unable to parse requirement: found 'c', expected: ',' or ')'"),
    ("a in (=)", "unable to parse requirement: found '=', expected: ',', ')' or identifier"),
    ("a=(", "unable to parse requirement: found '(', expected: identifier"),
    ("!a=b", "found '=', expected: ',' or 'end of string'"),
    ("!!a", "unable to parse requirement: found '!', expected: identifier"),
    ("a!b", "unable to parse requirement: found '!', expected: in, notin, =, ==, !=, gt, lt"),
    ("a b=c", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
    ("a_=b", 'unable to parse requirement: <nil>: Invalid value: "a_": name part ' + QUALIFIED_NAME_RULE),
    ("a=b_", 'unable to parse requirement: values[0][a]: Invalid value: "b_": ' + LABEL_VALUE_RULE),
    ("a=" + "v" * 64, f'unable to parse requirement: values[0][a]: Invalid value: "{"v" * 64}": '
                      "must be no more than 63 characters"),
    ("a>x", "unable to parse requirement: values[0]: Invalid value: \"x\": for 'Gt', 'Lt' operators, the value "
            "must be an integer"),
]


@pytest.mark.parametrize(("text", "message"), SYNTAX_ERRORS)
def test_label_selector_errors_are_bad_requests_with_kubernetes_messages(text: str, message: str) -> None:
    error = api_error(parse_label_selector, text)
    assert (error.code, error.reason, error.message) == (400, "BadRequest", message)


def test_invalid_value_and_gt_errors_aggregate() -> None:
    error = api_error(parse_label_selector, "a>-x")
    assert error.message.startswith("unable to parse requirement: [values[0]: Invalid value: \"-x\": for 'Gt'")
    assert 'values[0][a]: Invalid value: "-x": ' + LABEL_VALUE_RULE in error.message


KEY_ERRORS = [
    ("app", []),
    ("example.com/app", []),
    ("a" * 63, []),
    ("a" * 64, ["name part must be no more than 63 characters"]),
    ("", ["name part must be non-empty", "name part " + QUALIFIED_NAME_RULE]),
    ("/a", ["prefix part must be non-empty"]),
    ("Example.com/a", ["prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                       "characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                       "'example.com', regex used for validation is "
                       "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ("a/b/c", ["a qualified name " + QUALIFIED_NAME_RULE
               + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
]


@pytest.mark.parametrize(("key", "errors"), KEY_ERRORS)
def test_label_key_validation(key: str, errors: list[str]) -> None:
    assert label_key_errors(key) == errors


def test_label_value_validation() -> None:
    assert label_value_errors("") == []
    assert label_value_errors("a" * 63) == []
    assert label_value_errors("a.b-c_D9") == []
    assert label_value_errors("a" * 64) == ["must be no more than 63 characters"]
    assert label_value_errors("-a") == [LABEL_VALUE_RULE]
    assert label_value_errors("a b") == [LABEL_VALUE_RULE]


# --- label selectors from metav1.LabelSelector (controllers) ------------------------------------------------

def test_label_selector_dict_with_labels_and_expressions() -> None:
    selector = label_selector_from_dict({
        "matchLabels": {"app": "web"},
        "matchExpressions": [
            {"key": "tier", "operator": "In", "values": ["frontend", "edge"]},
            {"key": "canary", "operator": "DoesNotExist"},
            {"key": "env", "operator": "NotIn", "values": ["dev"]},
            {"key": "team", "operator": "Exists"},
        ],
    })
    assert str(selector) == "app=web,!canary,env notin (dev),team,tier in (edge,frontend)"
    assert selector.matches({"app": "web", "tier": "edge", "team": "a", "env": "prod"})
    assert not selector.matches({"app": "web", "tier": "edge", "team": "a", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "backend", "team": "a"})
    assert not selector.matches({"app": "web", "tier": "edge"})


def test_nil_label_selector_selects_nothing_and_empty_selects_everything() -> None:
    assert label_selector_from_dict(None) == NOTHING
    assert not NOTHING.matches({}) and not NOTHING.empty and str(NOTHING) == ""
    assert label_selector_from_dict({}) == EVERYTHING
    assert label_selector_from_dict({"matchLabels": {}, "matchExpressions": []}).matches({"x": "y"})


LABEL_SELECTOR_DICT_ERRORS = [
    ({"matchExpressions": [{"key": "a", "operator": "Equals", "values": ["b"]}]},
     '"Equals" is not a valid label selector operator'),
    ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]},
     "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't be empty"),
    ({"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["b"]}]},
     'values: Invalid value: []string{"b"}: values set must be empty for exists and does not exist'),
    ({"matchLabels": {"a b": "c"}}, 'key: Invalid value: "a b": name part ' + QUALIFIED_NAME_RULE),
    ({"matchLabels": {"a": "c d"}}, 'values[0][a]: Invalid value: "c d": ' + LABEL_VALUE_RULE),
    ({"matchLabels": {"a": 1}}, "invalid label selector: label values must be strings, got 1"),
    ({"matchLabels": ["a"]}, "invalid label selector: matchLabels must be an object and matchExpressions a list"),
]


@pytest.mark.parametrize(("selector", "message"), LABEL_SELECTOR_DICT_ERRORS)
def test_label_selector_dict_errors(selector: dict, message: str) -> None:
    error = api_error(label_selector_from_dict, selector)
    assert (error.code, error.message) == (400, message)


def test_new_requirement_rejects_unknown_operators() -> None:
    error = api_error(new_requirement, "a", "like", ["b"])
    assert error.message.startswith('operator: Unsupported value: "like": supported values: "in", "notin"')


def test_selector_string_from_labels_is_sorted_set_form() -> None:
    assert selector_string_from_labels({"tier": "web", "app": "shop", "pod-template-hash": "7d4b9"}) == \
        "app=shop,pod-template-hash=7d4b9,tier=web"
    assert selector_string_from_labels({}) == ""
    assert selector_string_from_labels(None) == ""
    assert selector_from_labels({"app": "web"}).matches({"app": "web", "x": "y"})
    assert selector_from_labels({}).empty


# --- label selectors: properties ----------------------------------------------------------------------------



def _words(ends: str, inside: str) -> st.SearchStrategy[str]:
    """Strings that start and end with a character of ``ends`` and have ``inside`` characters in between."""
    edge = st.sampled_from(list(ends))
    return edge | st.builds(lambda a, b, c: a + b + c, edge, st.text(alphabet=list(inside), max_size=6), edge)


_name = _words("aZ09", "-_.aZ9")
_dns_prefix = st.lists(_words("a0z", "-a9"), min_size=1, max_size=3).map(".".join)
_keys = st.builds(lambda prefix, name: f"{prefix}/{name}" if prefix else name, st.none() | _dns_prefix, _name)
_values = st.just("") | _name | st.sampled_from(["in", "notin"])
_integers = st.integers(min_value=0, max_value=10**12).map(str)


@st.composite
def requirements(draw):
    key = draw(_keys)
    operator = draw(st.sampled_from(["in", "notin", "=", "==", "!=", "exists", "!", "gt", "lt"]))
    if operator in ("in", "notin"):
        values = sorted(set(draw(st.lists(_values, min_size=1, max_size=4))))
    elif operator in ("exists", "!"):
        values = []
    else:
        values = [draw(_integers if operator in ("gt", "lt") else _values)]
    return new_requirement(key, operator, values)


selectors = st.lists(requirements(), max_size=5).map(
    lambda reqs: LabelSelector(tuple(sorted(reqs, key=lambda r: r.key))))
label_sets = st.dictionaries(st.sampled_from(["a", "b", "in", "x.io/y"]) | _keys, _values | _integers, max_size=5)


@given(selectors)
def test_label_selector_string_round_trips(selector: LabelSelector) -> None:
    assert parse_label_selector(str(selector)) == selector


@given(selectors, label_sets)
def test_parsed_selector_matches_like_the_original(selector: LabelSelector, labels: dict[str, str]) -> None:
    assert parse_label_selector(str(selector)).matches(labels) == selector.matches(labels)


@given(st.dictionaries(_keys, _values, max_size=6))
def test_set_selector_matches_its_own_labels(labels: dict[str, str]) -> None:
    selector = parse_label_selector(selector_string_from_labels(labels))
    assert selector.matches(labels)
    assert selector.matches({**labels, "extra.io/other": "x"})
    for key in labels:
        assert not selector.matches({k: v for k, v in labels.items() if k != key})


@given(st.text(alphabet=st.sampled_from(list("ab =!(),<>in\t-_./1")), max_size=30) | st.text(max_size=20))
def test_any_text_parses_or_is_a_bad_request(text: str) -> None:
    try:
        parse_label_selector(text)
    except ApiError as error:
        assert error.code == 400


# --- field selectors ------------------------------------------------------------------------------------------

RECORDED_FIELD_QUERIES = [
    # rollout status / delete wait: single-object watch
    ("allowWatchBookmarks=true&fieldSelector=metadata.name%3Dweb&resourceVersionMatch=NotOlderThan"
     "&sendInitialEvents=true&timeoutSeconds=387&watch=true", "pods", "metadata.name=web"),
    # kubectl get pods --field-selector status.phase=Running -A
    ("fieldSelector=status.phase%3DRunning", "pods", "status.phase=Running"),
    # describe node node-1
    ("fieldSelector=spec.nodeName%3Dnode-1%2Cstatus.phase%21%3DSucceeded%2Cstatus.phase%21%3DFailed&limit=500",
     "pods", "spec.nodeName=node-1,status.phase!=Failed,status.phase!=Succeeded"),
    # drain
    ("fieldSelector=spec.nodeName%3Dnode-1&limit=500", "pods", "spec.nodeName=node-1"),
    # describe deployment web: events (kubectl does not escape this one)
    ("fieldSelector=involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Deployment,"
     "involvedObject.uid=6c1f3c1e-0b3a-4f7e-9a7e-2f6a1d0c9b11&limit=500", "events",
     "involvedObject.kind=Deployment,involvedObject.name=web,involvedObject.namespace=default,"
     "involvedObject.uid=6c1f3c1e-0b3a-4f7e-9a7e-2f6a1d0c9b11"),
    # describe node: events of a cluster-scoped object, empty namespace
    ("fieldSelector=involvedObject.name=node-1,involvedObject.namespace=,involvedObject.kind=Node,"
     "involvedObject.uid=node-1", "events",
     "involvedObject.kind=Node,involvedObject.name=node-1,involvedObject.namespace=,involvedObject.uid=node-1"),
]


@pytest.mark.parametrize(("query", "plural", "canonical"), RECORDED_FIELD_QUERIES)
def test_recorded_kubectl_field_selectors_parse_and_validate(query: str, plural: str, canonical: str) -> None:
    resource = resources.lookup("", "v1", plural)
    selector = parse_field_selector(query_value(query, "fieldSelector"), resource)
    assert str(selector) == canonical


def test_describe_node_pod_selector_matches_running_pods_on_the_node() -> None:
    selector = parse_field_selector("spec.nodeName=node-1,status.phase!=Succeeded,status.phase!=Failed")
    assert selector.matches({"spec": {"nodeName": "node-1"}, "status": {"phase": "Running"}})
    assert selector.matches({"spec": {"nodeName": "node-1"}, "status": {}})
    assert not selector.matches({"spec": {"nodeName": "node-1"}, "status": {"phase": "Succeeded"}})
    assert not selector.matches({"spec": {"nodeName": "node-2"}, "status": {"phase": "Running"}})
    assert not selector.matches({"spec": {}, "status": {"phase": "Running"}})


def test_node_events_selector_matches_an_empty_namespace() -> None:
    selector = parse_field_selector("involvedObject.name=node-1,involvedObject.namespace=,involvedObject.kind=Node")
    event = {"involvedObject": {"kind": "Node", "name": "node-1"}, "source": {"component": "kubelet"}}
    assert selector.matches(event)
    assert not selector.matches({**event, "involvedObject": {**event["involvedObject"], "namespace": "default"}})


def test_field_selector_equals_forms_and_pins() -> None:
    selector = parse_field_selector("metadata.name==web,metadata.namespace=default,spec.nodeName!=n1")
    assert selector.requirements == (
        FieldRequirement("metadata.name", "=", "web"),
        FieldRequirement("metadata.namespace", "=", "default"),
        FieldRequirement("spec.nodeName", "!=", "n1"),
    )
    assert (selector.pinned_name, selector.pinned_namespace, selector.pinned_node_name) == ("web", "default", None)
    assert parse_field_selector("spec.nodeName=n2").pinned_node_name == "n2"
    assert parse_field_selector("").pinned_name is None
    assert selector.fields == {"metadata.name", "metadata.namespace", "spec.nodeName"}


def test_empty_field_selector_matches_everything() -> None:
    for text in ("", ",", ",,"):
        selector = parse_field_selector(text)
        assert selector.empty and str(selector) == "" and selector.matches({})


def test_field_selector_escaping() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c\\d")
    assert selector.requirements == (FieldRequirement("metadata.name", "=", "a,b=c\\d"),)
    assert str(selector) == r"metadata.name=a\,b\=c\\d"
    assert selector.matches({"metadata": {"name": "a,b=c\\d"}})
    assert escape_field_value("a,b=c\\") == r"a\,b\=c\\"


FIELD_SYNTAX_ERRORS = [
    ("foo", "invalid selector: 'foo'; can't understand 'foo'"),
    ("a=b,foo", "invalid selector: 'a=b,foo'; can't understand 'foo'"),
    ("a=b=c", "invalid field selector: unescaped character in value: 61"),
    ("a=b,c=d,e", "invalid selector: 'a=b,c=d,e'; can't understand 'e'"),
    (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
    ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
]


@pytest.mark.parametrize(("text", "message"), FIELD_SYNTAX_ERRORS)
def test_field_selector_syntax_errors(text: str, message: str) -> None:
    error = api_error(parse_field_selector, text)
    assert (error.code, error.message) == (400, message)


@pytest.mark.parametrize(("plural", "group", "text", "unsupported"), [
    ("pods", "", "foo=bar", "foo"),
    ("deployments", "apps", "spec.nodeName=n1", "spec.nodeName"),
    ("pods", "", "metadata.name=a,zzz=1", "zzz"),
    ("configmaps", "", "metadata.labels=x", "metadata.labels"),
    ("nodes", "", " metadata.name=n1", " metadata.name"),  # no trimming, as in Kubernetes
])
def test_unknown_field_labels_are_rejected(plural: str, group: str, text: str, unsupported: str) -> None:
    error = api_error(parse_field_selector, text, resources.lookup(group, "v1", plural))
    expected = f"field label not supported: {unsupported}"
    assert (error.code, error.reason, error.message) == (400, "BadRequest", expected)


def test_every_resource_accepts_name_and_namespace_and_its_own_fields() -> None:
    for resource in resources.RESOURCES:
        terms = ["metadata.name=a", "metadata.namespace=b", *(f"{field}=x" for field in resource.field_selectors)]
        assert len(parse_field_selector(",".join(terms), resource).requirements) == len(terms)


FIELD_VALUES = [
    ({"metadata": {"name": "web"}}, "metadata.name", "web"),
    ({"metadata": {"name": "web"}}, "metadata.namespace", ""),
    ({"spec": {"nodeName": "n1"}}, "spec.nodeName", "n1"),
    ({"status": {"phase": "Pending"}}, "status.phase", "Pending"),
    ({"source": {"component": "kubelet", "host": "n1"}}, "source", "kubelet"),
    ({"involvedObject": {"kind": "Pod"}}, "involvedObject.kind", "Pod"),
    ({"spec": {"unschedulable": True}}, "spec.unschedulable", "true"),
    ({"spec": {}}, "spec.unschedulable", "false"),
    ({"status": {"replicas": 3}}, "status.replicas", "3"),
    ({"status": {}}, "status.replicas", "0"),
    ({"status": {"succeeded": 2}}, "status.successful", "2"),
    ({"type": "kubernetes.io/tls"}, "type", "kubernetes.io/tls"),
    ({"spec": "not an object"}, "spec.nodeName", ""),
    ({"spec": {"nodeName": {"nested": 1}}}, "spec.nodeName", ""),
]


@pytest.mark.parametrize(("obj", "field", "value"), FIELD_VALUES)
def test_field_values_are_strings_and_missing_is_empty(obj: dict, field: str, value: str) -> None:
    assert field_value(obj, field) == value


def test_uncordoned_nodes_match_unschedulable_false() -> None:
    selector = parse_field_selector("spec.unschedulable=false", resources.lookup("", "v1", "nodes"))
    assert selector.matches({"spec": {}})
    assert not selector.matches({"spec": {"unschedulable": True}})


def test_matches_fields_takes_a_getter() -> None:
    selector = parse_field_selector("a=1,b!=2")
    assert selector.matches_fields({"a": "1", "b": "3"}.__getitem__)
    assert not selector.matches_fields({"a": "1", "b": "2"}.__getitem__)


_field_names = st.text(alphabet=list("abZ."), min_size=1, max_size=10)
_field_values = st.text(alphabet=st.sampled_from(list("ab,=\\ -.!")), max_size=8)


@given(st.text(max_size=40))
def test_field_value_escaping_round_trips(value: str) -> None:
    assert unescape_field_value(escape_field_value(value)) == value


@given(st.lists(st.tuples(_field_names, st.sampled_from(["=", "==", "!="]), _field_values), max_size=5))
def test_field_selector_parses_escaped_terms(terms: list[tuple[str, str, str]]) -> None:
    text = ",".join(f"{field}{operator}{escape_field_value(value)}" for field, operator, value in terms)
    selector = parse_field_selector(text)
    expected = sorted((field, "!=" if operator == "!=" else "=", value) for field, operator, value in terms)
    assert sorted((r.field, r.operator, r.value) for r in selector.requirements) == expected
    # str() is canonical ("==" prints as "="), so a second round trip changes nothing.
    canonical = parse_field_selector(str(selector))
    assert sorted(canonical.requirements, key=str) == sorted(selector.requirements, key=str)
    assert parse_field_selector(str(canonical)) == canonical


@given(st.text(alphabet=st.sampled_from(list("ab=!,\\. ")), max_size=25) | st.text(max_size=20))
def test_any_text_field_selector_parses_or_is_a_bad_request(text: str) -> None:
    try:
        parse_field_selector(text, resources.lookup("", "v1", "pods"))
    except ApiError as error:
        assert error.code == 400
