"""The Grafana dashboard: structure, panels, and every query valid PromQL (checked by promtool)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from tests.chart._promql import instantiate
from tests.chart._tools import CHART, run_ok

DASHBOARD = CHART / "dashboards" / "telemetry.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
REQUIRED_PANELS = {
    "Throughput in / out",
    "Consumer lag per partition",
    "Paused partitions and demand",
    "Stage buffer fill",
    "Processing latency",
    "End-to-end latency",
    "Event-time lag",
    "Dead letters by reason",
    "Late events",
    "Rollups and alerts per second",
    "Alerts by rule",
    "Rebalances and commits",
    "Workers and restarts",
}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def queries() -> list[tuple[str, str]]:
    """(where, expr) of every panel target and query variable."""
    found = [
        (f"{panel['title']} / {target['refId']}", target["expr"])
        for panel in panels()
        for target in panel["targets"]
    ]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            expr = variable["query"]["query"]
            # label_values(<selector>, <label>): the selector is the query that is evaluated.
            selector = expr.removeprefix("label_values(").rsplit(",", 1)[0]
            found.append((f"variable {variable['name']}", selector))
    return found


def test_dashboard_identity_and_datasource_variable() -> None:
    board = dashboard()
    assert board["uid"] == "telemetry-overview"
    assert board["title"]
    assert "id" not in board, "a provisioned dashboard must not carry a database id"
    variables = {var["name"]: var for var in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for var in variables.values():
        if var["type"] == "query":
            assert var["datasource"] == DATASOURCE, var["name"]
            assert var["allValue"] == ".*", var["name"]


def test_every_panel_queries_the_datasource_variable() -> None:
    ids = [panel["id"] for panel in dashboard()["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels():
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]


def test_the_required_panels_are_there() -> None:
    titles = {panel["title"] for panel in panels()}
    assert titles >= REQUIRED_PANELS, f"missing: {REQUIRED_PANELS - titles}"


def test_latency_panels_show_p50_and_p99_from_histograms() -> None:
    by_title = {panel["title"]: panel for panel in panels()}
    for title in ("Processing latency", "End-to-end latency"):
        exprs = [target["expr"] for target in by_title[title]["targets"]]
        assert any(expr.startswith("histogram_quantile(0.5,") for expr in exprs), title
        assert any(expr.startswith("histogram_quantile(0.99,") for expr in exprs), title
        assert all("_bucket{" in expr and "by (le)" in expr for expr in exprs), title
        assert by_title[title]["fieldConfig"]["defaults"]["unit"] == "s"


def test_panels_are_filtered_by_the_dashboard_variables() -> None:
    for where, expr in queries():
        if where.startswith("variable"):
            continue
        assert expr.count("{") == expr.count('instance=~"$instance"'), where
        assert expr.count("{") == expr.count('namespace=~"$namespace"'), where


def test_every_query_is_valid_promql(promtool: str, tmp_path: Path) -> None:
    """Each query, its variables filled in, as a recording rule: promtool parses it."""
    rules = [
        {"record": f"dashboard:query_{index}", "expr": instantiate(expr)}
        for index, (_, expr) in enumerate(queries())
    ]
    path = tmp_path / "dashboard-queries.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    out = run_ok([promtool, "check", "rules", str(path)])
    assert f"SUCCESS: {len(rules)} rules found" in out
