# Keeps only the first expression of a panel with several.
def grafana_dashboard(title, panels, columns=24):
    """A Grafana dashboard (dict, JSON-serialisable) with one Prometheus panel per spec, laid out row by row."""
    kinds = {"timeseries", "stat", "gauge"}
    out, x, y, row_h = [], 0, 0, 0
    for i, spec in enumerate(panels):
        w, h, kind = int(spec["w"]), int(spec["h"]), spec["kind"]
        if not 1 <= w <= columns or h < 1:
            raise ValueError(f"panel {i}: w must be in 1..{columns} and h >= 1, got w={w}, h={h}")
        if kind not in kinds:
            raise ValueError(f"panel {i}: kind must be one of {sorted(kinds)}, got {kind!r}")
        exprs = [spec["expr"]] if isinstance(spec["expr"], str) else list(spec["expr"])
        if x + w > columns:                      # does not fit: start a new row under the tallest panel
            x, y, row_h = 0, y + row_h, 0
        out.append({
            "id": i + 1, "title": spec["title"], "type": kind, "datasource": dict(DATASOURCE),
            "gridPos": {"x": x, "y": y, "w": w, "h": h},
            "fieldConfig": {"defaults": {"unit": spec.get("unit", "short")}, "overrides": []},
            "targets": [{"refId": chr(ord("A") + j), "expr": e, "datasource": dict(DATASOURCE)}
                        for j, e in enumerate(exprs[:1])],
        })
        x, row_h = x + w, max(row_h, h)
    return {"title": title, "schemaVersion": 39, "time": {"from": "now-15m", "to": "now"}, "refresh": "5s",
            "panels": out}
