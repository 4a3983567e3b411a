"""/metrics in Prometheus's text format (version 0.0.4), from apps/ops/metrics.py and the
queue states."""

from apps.ops import metrics
from apps.ops.selectors import queue_states


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

    states = queue_states()
    gauges = {
        "conveyor_queue_depth": ("Messages waiting in the queue.", lambda q: q.depth),
        "conveyor_queue_oldest_wait_seconds": (
            "Seconds the oldest waiting message has waited (0: none).",
            lambda q: round(q.oldest_wait or 0.0, 3),
        ),
        "conveyor_queue_workers": ("Workers consuming the queue.", lambda q: len(q.workers)),
        "conveyor_queue_processes": ("Pool processes consuming the queue.", lambda q: q.processes),
    }
    for name, (help_text, value) in gauges.items():
        lines += _family(name, "gauge", help_text)
        lines += [f"{name}{_labels(queue=q.name)} {value(q)}" for q in states]
    return "\n".join(lines) + "\n"
