# Builds panels with a small helper class and a cursor object; converts to dicts at the end.
from dataclasses import dataclass, field


@dataclass
class _Cursor:
    columns: int
    x: int = 0
    y: int = 0
    row_h: int = 0

    def place(self, w, h):
        if self.x + w > self.columns:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos


def grafana_dashboard(title, panels, columns=24):
    cur = _Cursor(columns)
    ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    result = []
    for n, spec in enumerate(panels, start=1):
        if spec["kind"] not in {"gauge", "stat", "timeseries"}:
            raise ValueError(spec["kind"])
        if not (0 < spec["w"] <= columns) or spec["h"] <= 0:
            raise ValueError("size")
        exprs = [spec["expr"]] if isinstance(spec["expr"], str) else spec["expr"]
        result.append(dict(id=n, title=spec["title"], type=spec["kind"], datasource=ds,
                           gridPos=cur.place(spec["w"], spec["h"]),
                           fieldConfig={"defaults": {"unit": spec.get("unit", "short")}, "overrides": []},
                           targets=[dict(refId=chr(65 + k), expr=e, datasource=ds) for k, e in enumerate(exprs)]))
    return dict(title=title, schemaVersion=39, panels=result)
