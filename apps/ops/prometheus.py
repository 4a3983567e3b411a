"""/metrics in Prometheus's text format (version 0.0.4), from apps/ops/metrics.py and the
broker."""

import time

from apps.ops import broker, metrics
from config import queues


def _labels(**labels: str) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return str(value).replace("\\", r"\\").replace('"', r"\"").replace("\n", r"\n")


def _family(name: str, kind: str, help_text: str) -> list[str]:
    return [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def render() -> str:
    lines = _family("conveyor_tasks_total", "counter", "Tasks run, by queue, task and outcome.")
    for (queue, task, outcome), count in sorted(metrics.counts().items()):
        lines.append(
            f"conveyor_tasks_total{_labels(queue=queue, task=task, outcome=outcome)} {count}"
        )
    for kind, help_text in (
        ("runtime", "Seconds a task ran."),
        ("wait", "Seconds from publish (or the end of a retry's countdown) to start."),
    ):
        name = f"conveyor_task_{kind}_seconds"
        lines += _family(name, "histogram", help_text)
        for (queue, task), data in sorted(metrics.histograms(kind).items()):
            for le, count in data["buckets"]:
                lines.append(f"{name}_bucket{_labels(queue=queue, task=task, le=le)} {count}")
            lines.append(f"{name}_sum{_labels(queue=queue, task=task)} {data['sum']:.6f}")
            lines.append(f"{name}_count{_labels(queue=queue, task=task)} {data['count']}")

    backlogs = broker.backlogs(list(queues.NAMES))
    pools = broker.pools()
    now = time.time()
    gauges = {
        "conveyor_queue_depth": ("Messages waiting in the queue.", lambda q: backlogs[q].depth),
        "conveyor_queue_oldest_wait_seconds": (
            "Seconds the oldest waiting message has waited (0: none).",
            lambda q: round(backlogs[q].oldest_wait(now) or 0.0, 3),
        ),
        "conveyor_queue_workers": (
            "Workers consuming the queue.",
            lambda q: len(pools.get(q, {}).get("workers", [])),
        ),
        "conveyor_queue_processes": (
            "Pool processes consuming the queue.",
            lambda q: pools.get(q, {}).get("processes", 0),
        ),
    }
    for name, (help_text, value) in gauges.items():
        lines += _family(name, "gauge", help_text)
        lines += [f"{name}{_labels(queue=q)} {value(q)}" for q in queues.NAMES]
    return "\n".join(lines) + "\n"
