"""deploy/prometheus and deploy/grafana: promtool accepts the scrape config and the alert rules
(and their unit tests pass), they scrape the compose services where those listen, and every
metric the alerts and the Grafana dashboard query is one the services really export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.webhooks import STREAM, serve, webhook_settings
from webhooks.metrics import WaitingAges
from worker import keys
from worker.controller.metrics import ControllerMetrics
from worker.metrics import WorkerMetrics
from worker.notify.metrics import NotifyMetrics
from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "autorec.json"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _compose_service(name: str) -> dict[str, Any]:
    service: dict[str, Any] = _yaml(ROOT / "docker-compose.yml")["services"][name]
    return service


# --- promtool ---------------------------------------------------------------------------


def _promtool() -> str:
    """promtool's path; the test is skipped only where it is missing and cannot be installed
    with apt-get (`.ci/run` installs Debian's `prometheus` package, which carries it)."""
    found = shutil.which("promtool")
    if found is None:
        if shutil.which("apt-get") is None:
            pytest.skip("promtool is not installed and this platform has no apt-get")
        pytest.fail("promtool is missing: apt-get install prometheus (as .ci/run does)")
    return found


def _run_promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_promtool(), *args], capture_output=True, text=True, timeout=60, cwd=PROMETHEUS
    )


def test_promtool_accepts_the_scrape_config_and_the_rule_files_it_names() -> None:
    result = _run_promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


def test_promtool_accepts_the_alert_rules() -> None:
    result = _run_promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alert_rules_fire_as_their_unit_tests_expect() -> None:
    result = _run_promtool("test", "rules", str(PROMETHEUS / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


# --- the rules and the scrape config ------------------------------------------------------


def _alert_rules() -> list[dict[str, Any]]:
    groups = _yaml(PROMETHEUS / "alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_every_alert_waits_has_a_severity_and_explains_itself() -> None:
    for rule in _alert_rules():
        assert rule.get("for"), f"{rule['alert']} has no `for`"
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]


def test_the_alerts_cover_what_an_operator_must_hear_of() -> None:
    names = {rule["alert"] for rule in _alert_rules()}
    assert {
        "AutorecRecordingSlotsNearLimit",
        "AutorecChannelWaitingTooLong",
        "AutorecAgoraErrorRate",
        "AutorecRecordingsDying",
        "AutorecNotificationBacklog",
        "AutorecDeadLetters",
        "AutorecNoWorkerAlive",
    } <= names


def _scrape_jobs() -> dict[str, dict[str, Any]]:
    config = _yaml(PROMETHEUS / "prometheus.yml")
    assert config["rule_files"] == ["alerts.yml"]
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_prometheus_scrapes_the_webhook_service_on_its_compose_name_and_port() -> None:
    command = _compose_service("webhooks")["command"]
    port = command[command.index("--port") + 1]
    (static,) = _scrape_jobs()["autorec-webhooks"]["static_configs"]
    assert static["targets"] == [f"webhooks:{port}"]


def test_prometheus_finds_every_worker_replica_on_the_worker_metrics_port() -> None:
    (dns,) = _scrape_jobs()["autorec-worker"]["dns_sd_configs"]
    assert dns["names"] == ["worker"]
    assert dns["type"] == "A"
    assert _compose_service("worker")["deploy"]["replicas"] >= 1
    assert dns["port"] == Settings.model_fields["autorec_worker_metrics_port"].default
    healthcheck = " ".join(_compose_service("worker")["healthcheck"]["test"])
    assert f"AUTOREC_WORKER_METRICS_PORT:-{dns['port']}" in healthcheck


# --- Grafana --------------------------------------------------------------------------------


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return loaded


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in `node`, depth first."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def _dashboard_exprs() -> list[str]:
    return [obj["expr"] for obj in _walk(_dashboard()["panels"]) if "expr" in obj]


def test_the_dashboard_queries_the_provisioned_prometheus_datasource() -> None:
    (datasource,) = _yaml(GRAFANA / "provisioning" / "datasources" / "prometheus.yml")[
        "datasources"
    ]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    references = [obj["datasource"] for obj in _walk(_dashboard()) if "datasource" in obj]
    assert references
    assert all(ref == {"type": "prometheus", "uid": datasource["uid"]} for ref in references)


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    (provider,) = _yaml(GRAFANA / "provisioning" / "dashboards" / "autorec.yml")["providers"]
    mounts = _compose_service("grafana")["volumes"]
    assert f"./deploy/grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert "./deploy/grafana/provisioning:/etc/grafana/provisioning:ro" in mounts


def test_the_dashboard_shows_slots_recordings_agora_events_notifications_and_workers() -> None:
    used = set().union(*(metric_names(expr) for expr in _dashboard_exprs()))
    assert {
        "autorec_recording_slots_in_use",
        "autorec_recording_slots_limit",
        "autorec_recordings_waiting",
        "autorec_recordings_started_total",
        "autorec_recordings_stopped_total",
        "autorec_recordings_failed_total",
        "autorec_agora_requests_total",
        "autorec_webhooks_received_total",
        "autorec_events_applied_total",
        "autorec_events_pending",
        "autorec_events_dead_letter_length",
        "autorec_notifications_delivered_total",
        "autorec_notifications_failed_total",
        "autorec_notification_oldest_pending_age_seconds",
        "up",
    } <= used


# --- metric names: what is queried against what is exported ------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPINGS = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIERS = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
)


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects: its identifiers that are not a function
    or aggregation (followed by `(`), a keyword, or inside a string, label matcher, range
    or grouping clause."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGES.sub(" ", text)
    text = _GROUPINGS.sub(" ", text)
    return {
        name
        for name, call in _IDENTIFIERS.findall(text)
        if not call and name.lower() not in _KEYWORDS
    }


def test_metric_names_are_read_from_promql_as_prometheus_would() -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, op)"
        ' (rate(a_bucket{x="y", z=~"1|2"}[$__rate_interval])))'
        ' / on() group_left(q) b > 1e3 and absent(up{job="w"}) or vector(0) unless c offset 5m'
    )
    assert metric_names(expr) == {"a_bucket", "b", "up", "c"}


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "gauge": ("",),
    "info": ("_info",),
}


def exported_names(exposition: str) -> set[str]:
    """Every series name a Prometheus text exposition can yield, also for labelled metrics
    that have no child yet (the family's type gives the suffixes)."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def worker_exposition() -> str:
    """A worker's registry, built as `worker.main.startup` builds it."""
    metrics = WorkerMetrics.create()
    ControllerMetrics.create(metrics.registry)
    NotifyMetrics.create(metrics.registry)
    registry: CollectorRegistry = metrics.registry
    return generate_latest(registry).decode()


async def webhooks_exposition(redis_url: str) -> str:
    """The real webhook service's /metrics with Redis answering."""
    async with serve(webhook_settings(redis_url)) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


@pytest.fixture
async def exported(redis: aioredis.Redis, redis_url: str) -> set[str]:
    # `up` is the one series Prometheus adds itself to every scraped target.
    return exported_names(await webhooks_exposition(redis_url) + worker_exposition()) | {"up"}


def _alert_exprs() -> list[str]:
    return [str(rule["expr"]) for rule in _alert_rules()]


def test_the_queries_name_metrics_at_all() -> None:
    assert all(metric_names(expr) for expr in _alert_exprs() + _dashboard_exprs())


async def test_every_metric_the_alerts_query_is_exported(exported: set[str]) -> None:
    for expr in _alert_exprs():
        assert metric_names(expr) <= exported, f"{expr}: {metric_names(expr) - exported}"


async def test_every_metric_the_dashboard_queries_is_exported(exported: set[str]) -> None:
    for expr in _dashboard_exprs():
        assert metric_names(expr) <= exported, f"{expr}: {metric_names(expr) - exported}"


# --- the gauges the alerts need: the longest wait and the dead letters ------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_the_longest_wait_counts_from_the_first_scrape_that_saw_the_channel() -> None:
    clock = FakeClock()
    ages = WaitingAges(clock)
    assert ages.oldest_s(["room-1"]) == 0
    clock.now_s += 60
    assert ages.oldest_s(["room-1", "room-2"]) == 60
    clock.now_s += 30
    assert ages.oldest_s(["room-2"]) == 30


def test_a_channel_that_left_the_queue_waits_anew_when_it_returns() -> None:
    clock = FakeClock()
    ages = WaitingAges(clock)
    ages.oldest_s(["room-1"])
    clock.now_s += 600
    assert ages.oldest_s([]) == 0
    clock.now_s += 10
    assert ages.oldest_s(["room-1"]) == 0


def _value(exposition: str, name: str) -> float | None:
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name:
                return sample.value
    return None


async def test_the_webhook_service_reports_the_longest_wait_and_the_dead_letters(
    redis: aioredis.Redis, redis_url: str
) -> None:
    await redis.xadd(keys.dead_letter(STREAM), {"reason": b"deliveries"})
    async with serve(webhook_settings(redis_url)) as client:
        idle = (await client.get("/metrics")).text
        await redis.zadd(keys.WAITING, {"room-1": 1})
        first = (await client.get("/metrics")).text
        second = (await client.get("/metrics")).text
    assert _value(idle, "autorec_recordings_waiting_oldest_age_seconds") == 0
    assert _value(idle, "autorec_events_dead_letter_length") == 1
    assert _value(first, "autorec_recordings_waiting") == 1
    first_age = _value(first, "autorec_recordings_waiting_oldest_age_seconds")
    second_age = _value(second, "autorec_recordings_waiting_oldest_age_seconds")
    assert first_age is not None
    assert second_age is not None
    assert 0 <= first_age <= second_age
