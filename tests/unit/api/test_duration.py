"""Go durations as the components' flags take them (the controller-manager's and the kubelet's)."""

from __future__ import annotations

import pytest

from provisioner.services.api.duration import parse_duration


@pytest.mark.parametrize(("text", "seconds"), [
    ("40s", 40.0), ("1m30s", 90.0), ("8760h0m0s", 8760 * 3600.0), ("500ms", 0.5), ("1.5h", 5400.0), ("7", 7.0),
    ("250us", 0.00025), ("0s", 0.0),
])
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5x", "1m 30s", "s", "-3s", "inf", "nan"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="invalid duration"):
        parse_duration(text)
