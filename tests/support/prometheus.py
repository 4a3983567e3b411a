"""Reading Prometheus text in tests."""

import re


def sample(text: str, name: str, **labels) -> float:
    """The value of one series in Prometheus text."""
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{re.escape(name)}\{{{re.escape(wanted)}\}} (\S+)$", text, re.M)
    assert match, f"{name}{{{wanted}}} not exported"
    return float(match.group(1))
