# an append-only event log; state is replayed from it; EXCLUSIVE transactions; md5 + bisect routing

import bisect
import hashlib
import json
import sqlite3
import time


class ModelRegistry:
    def __init__(self, path):
        self.path = str(path)
        self.conn = sqlite3.connect(self.path, timeout=120, isolation_level=None, check_same_thread=False)
        self._write(lambda c: c.execute("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, model TEXT, "
                                        "kind TEXT, body TEXT)"))

    def _write(self, fn):
        for attempt in range(200):
            try:
                self.conn.execute("BEGIN EXCLUSIVE")
                break
            except sqlite3.OperationalError:
                time.sleep(0.01)
        try:
            out = fn(self.conn)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")
        return out

    def _state(self, model, conn=None):
        conn = conn or self.conn
        versions, aliases, history, split = {}, {}, [], None
        for kind, body in conn.execute("SELECT kind, body FROM events WHERE model = ? ORDER BY seq", (model,)):
            b = json.loads(body)
            if kind == "version":
                versions[b["version"]] = b
            elif kind == "alias":
                aliases[b["alias"]] = b["version"]
            elif kind == "promote":
                if "prod" in aliases:
                    history.append(aliases["prod"])
                aliases["prod"] = b["version"]
            elif kind == "rollback":
                aliases["prod"] = history.pop()
            elif kind == "traffic":
                split = b["split"]
        return versions, aliases, history, split

    @staticmethod
    def _lookup(model, versions, aliases, ref):
        if isinstance(ref, str):
            if ref not in aliases:
                raise KeyError(f"unknown alias {ref!r} for model {model!r}")
            return aliases[ref]
        if ref not in versions:
            raise KeyError(f"unknown version {ref!r} for model {model!r}")
        return ref

    def _append(self, conn, model, kind, body):
        conn.execute("INSERT INTO events (model, kind, body) VALUES (?, ?, ?)", (model, kind, json.dumps(body)))

    def register(self, name, uri, metrics=None):
        def op(conn):
            versions = self._state(name, conn)[0]
            v = max(versions, default=0) + 1
            self._append(conn, name, "version", {"version": v, "uri": uri, "metrics": dict(metrics or {})})
            return v
        return self._write(op)

    def get(self, name, ref):
        versions, aliases, _, _ = self._state(name)
        v = self._lookup(name, versions, aliases, ref)
        rec = versions[v]
        return {"name": name, "version": v, "uri": rec["uri"], "metrics": rec["metrics"]}

    def set_alias(self, name, alias, version):
        def op(conn):
            versions, aliases, _, _ = self._state(name, conn)
            if version not in versions:
                raise KeyError(f"unknown version {version!r} for model {name!r}")
            self._append(conn, name, "alias", {"alias": alias, "version": version})
        self._write(op)

    def promote(self, name, version):
        def op(conn):
            versions = self._state(name, conn)[0]
            if version not in versions:
                raise KeyError(f"unknown version {version!r} for model {name!r}")
            self._append(conn, name, "promote", {"version": version})
        self._write(op)

    def rollback(self, name):
        def op(conn):
            _, _, history, _ = self._state(name, conn)
            if not history:
                raise LookupError(f"nothing to roll back to for model {name!r}")
            self._append(conn, name, "rollback", {})
            return history[-1]
        return self._write(op)

    def set_traffic(self, name, split):
        items = list(dict(split).items())
        if not items or min(w for _, w in items) < 0 or abs(sum(w for _, w in items) - 1.0) > 1e-9:
            raise ValueError("weights must be non-negative and sum to 1")

        def op(conn):
            versions, aliases, _, _ = self._state(name, conn)
            for ref, _ in items:
                self._lookup(name, versions, aliases, ref)
            self._append(conn, name, "traffic", {"split": [[ref, w] for ref, w in items]})
        self._write(op)

    def route(self, name, request_id):
        versions, aliases, _, split = self._state(name)
        if not split:
            return self._lookup(name, versions, aliases, "prod")
        edges, total = [], 0.0
        for _, w in split:
            total += w
            edges.append(total)
        h = int(hashlib.md5(f"{name}|{request_id}".encode()).hexdigest(), 16) / 16**32 * total
        i = min(bisect.bisect_right(edges, h), len(split) - 1)
        return self._lookup(name, versions, aliases, split[i][0])
