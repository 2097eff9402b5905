"""plan.select: the phases to run, in their fixed order, chosen with --only/--skip."""

from __future__ import annotations

import pytest

from provisioner.plan import PHASE_NAMES, PHASES, PhaseSelectionError, select

ALL = ("preflight", "machines", "bundle", "pki", "control_plane", "join", "verify")


def _names(phases) -> list[str]:
    return [p.name for p in phases]


def test_the_phases_in_their_order() -> None:
    assert PHASE_NAMES == ALL
    assert _names(select()) == list(ALL)


def test_phases_the_tool_does_itself_have_no_playbook() -> None:
    assert {p.name for p in PHASES if p.playbook is None} == {"preflight", "verify"}
    assert all(p.playbook.endswith(".yml") for p in PHASES if p.playbook)


def test_only_keeps_the_fixed_order_whatever_order_is_given() -> None:
    assert _names(select(only=["join", "pki", "machines"])) == ["machines", "pki", "join"]


def test_skip_drops_phases_and_keeps_the_order() -> None:
    assert _names(select(skip=["verify", "preflight"])) == ["machines", "bundle", "pki", "control_plane", "join"]


def test_a_phase_given_twice_runs_once() -> None:
    assert _names(select(only=["pki", "pki"])) == ["pki"]


@pytest.mark.parametrize("kwargs", [{"only": ["pki", "bogus"]}, {"skip": ["bogus"]}])
def test_unknown_names_are_refused_naming_the_valid_ones(kwargs: dict) -> None:
    with pytest.raises(PhaseSelectionError) as raised:
        select(**kwargs)
    message = str(raised.value)
    assert "unknown phase bogus" in message
    assert "phases are: preflight, machines, bundle, pki, control_plane, join, verify" in message
    assert raised.value.exit_code == 2


def test_all_unknown_names_are_named_at_once() -> None:
    with pytest.raises(PhaseSelectionError, match="unknown phase nope, nada"):
        select(only=["nope", "pki"], skip=["nada"])


def test_only_and_skip_together_are_refused() -> None:
    with pytest.raises(PhaseSelectionError, match="not both"):
        select(only=["pki"], skip=["join"])


def test_skipping_everything_leaves_nothing_to_run() -> None:
    with pytest.raises(PhaseSelectionError, match="no phase left to run"):
        select(skip=list(ALL))
