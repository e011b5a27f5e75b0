# Splits the specs into rows first, then assigns coordinates row by row.
def grafana_dashboard(title, panels, columns=24):
    for s in panels:
        if s["w"] < 1 or s["w"] > columns or s["h"] < 1 or s["kind"] not in ("timeseries", "stat", "gauge"):
            raise ValueError(f"bad panel spec {s}")
    rows, cur, used = [], [], 0
    for i, s in enumerate(panels):
        if used + s["w"] > columns:
            rows.append(cur)
            cur, used = [], 0
        cur.append((i, s))
        used += s["w"]
    if cur:
        rows.append(cur)
    out, y = [], 0
    ds = {"type": "prometheus", "uid": "prom"}
    for row in rows:
        x = 0
        for i, s in row:
            exprs = s["expr"] if isinstance(s["expr"], list) else [s["expr"]]
            out.append({"id": i + 1, "title": s["title"], "type": s["kind"], "datasource": ds,
                        "gridPos": {"h": s["h"], "w": s["w"], "x": x, "y": y},
                        "fieldConfig": {"defaults": {"unit": s.get("unit", "short")}},
                        "targets": [{"refId": "ABCDEFGHIJKLMNOPQRSTUVWXYZ"[j], "expr": e, "datasource": ds}
                                    for j, e in enumerate(exprs)]})
            x += s["w"]
        y += max(s["h"] for _, s in row)
    return {"title": title, "schemaVersion": 38, "panels": out}
