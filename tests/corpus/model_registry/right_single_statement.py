# INSERT ... SELECT MAX + 1 RETURNING in one statement (atomic), aliases with a history table

import hashlib
import json
import sqlite3


class ModelRegistry:
    def __init__(self, path):
        self.db = sqlite3.connect(str(path), timeout=120, check_same_thread=False)
        with self.db:
            self.db.execute("CREATE TABLE IF NOT EXISTS v (model TEXT NOT NULL, ver INTEGER NOT NULL, uri TEXT, "
                            "metrics TEXT, UNIQUE (model, ver))")
            self.db.execute("CREATE TABLE IF NOT EXISTS a (model TEXT, alias TEXT, ver INTEGER, UNIQUE (model, alias))")
            self.db.execute("CREATE TABLE IF NOT EXISTS h (n INTEGER PRIMARY KEY, model TEXT, ver INTEGER)")
            self.db.execute("CREATE TABLE IF NOT EXISTS t (model TEXT PRIMARY KEY, split TEXT)")

    def _ver(self, name, ref):
        if isinstance(ref, str):
            row = self.db.execute("SELECT ver FROM a WHERE model = ? AND alias = ?", (name, ref)).fetchone()
            what = f"alias {ref!r}"
        else:
            row = self.db.execute("SELECT ver FROM v WHERE model = ? AND ver = ?", (name, ref)).fetchone()
            what = f"version {ref!r}"
        if row is None:
            raise KeyError(f"{name!r}: no {what}")
        return row[0]

    def register(self, name, uri, metrics=None):
        with self.db:
            (v,) = self.db.execute(
                "INSERT INTO v (model, ver, uri, metrics) "
                "SELECT ?, COALESCE(MAX(ver), 0) + 1, ?, ? FROM v WHERE model = ? RETURNING ver",
                (name, uri, json.dumps(metrics or {}), name)).fetchone()
        return v

    def get(self, name, ref):
        v = self._ver(name, ref)
        uri, metrics = self.db.execute("SELECT uri, metrics FROM v WHERE model = ? AND ver = ?", (name, v)).fetchone()
        return {"name": name, "version": v, "uri": uri, "metrics": json.loads(metrics)}

    def set_alias(self, name, alias, version):
        with self.db:
            self._ver(name, int(version))
            self.db.execute("INSERT INTO a VALUES (?, ?, ?) ON CONFLICT (model, alias) DO UPDATE SET ver = excluded.ver",
                            (name, alias, version))

    def promote(self, name, version):
        with self.db:
            self.db.execute("INSERT INTO h (model, ver) SELECT model, ver FROM a WHERE model = ? AND alias = 'prod' "
                            "AND EXISTS (SELECT 1 FROM v WHERE model = ? AND ver = ?)", (name, name, version))
            self._ver(name, version)
            self.db.execute("INSERT INTO a VALUES (?, 'prod', ?) ON CONFLICT (model, alias) DO UPDATE SET ver = excluded.ver",
                            (name, version))

    def rollback(self, name):
        with self.db:
            row = self.db.execute("SELECT n, ver FROM h WHERE model = ? ORDER BY n DESC LIMIT 1", (name,)).fetchone()
            if not row:
                raise LookupError(f"{name!r}: no previous prod version")
            self.db.execute("DELETE FROM h WHERE n = ?", (row[0],))
            self.db.execute("UPDATE a SET ver = ? WHERE model = ? AND alias = 'prod'", (row[1], name))
        return row[1]

    def set_traffic(self, name, split):
        pairs = sorted(dict(split).items(), key=lambda kv: str(kv[0]))
        if not pairs or any(w < 0 for _, w in pairs) or abs(sum(w for _, w in pairs) - 1) > 1e-9:
            raise ValueError(f"bad weights {split}")
        for ref, _ in pairs:
            self._ver(name, ref)
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO t VALUES (?, ?)", (name, json.dumps(pairs)))

    def route(self, name, request_id):
        row = self.db.execute("SELECT split FROM t WHERE model = ?", (name,)).fetchone()
        if row is None:
            return self._ver(name, "prod")
        pairs = json.loads(row[0])
        x = int(hashlib.sha1(str(request_id).encode()).hexdigest()[:12], 16) / 16**12
        for ref, w in pairs:
            if x < w:
                return self._ver(name, ref)
            x -= w
        return self._ver(name, pairs[-1][0])
