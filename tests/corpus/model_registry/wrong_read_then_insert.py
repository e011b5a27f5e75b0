# reads the last version and inserts the next one in separate transactions (lost updates)
"""A model registry on SQLite: versions, aliases (prod / canary), A/B traffic split and rollback.

Several processes (or threads, each with its own ``ModelRegistry``) may use one database file at the
same time: no update may be lost and no version number handed out twice.

* ``register(name, uri, metrics=None) -> int``: a new version of model ``name``: 1, 2, 3, ... per name.
* ``get(name, ref) -> dict`` with ``name``, ``version``, ``uri``, ``metrics`` (a dict, {} if none);
  ``ref`` is a version number (int) or an alias (str).
* ``set_alias(name, alias, version)``: point an alias at an existing version.
* ``promote(name, version)``: point ``prod`` at ``version``; the previous ``prod`` (if any) is pushed on
  the model's rollback history. ``rollback(name) -> int``: ``prod`` goes back to the last pushed
  version (popped from the history) and is returned; ``LookupError`` when there is nothing to go back to.
* ``set_traffic(name, split)``: ``{ref: weight}``, weights >= 0 summing to 1 (within 1e-9), else
  ``ValueError``; aliases in the split are resolved when routing, so promoting moves the traffic too.
* ``route(name, request_id) -> int``: the version that serves this request: the same request id always
  gets the same version (hash it, e.g. sha256, not Python's salted ``hash``), and over many ids each
  ref gets its weight's share. Without a split, ``prod`` serves everything.

An unknown model, version or alias raises ``KeyError`` whose message names the model and the ref.
"""
import hashlib
import json
import sqlite3


class ModelRegistry:
    def __init__(self, path):
        self.db = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout = 60000")
        with self._tx():
            for stmt in ("CREATE TABLE IF NOT EXISTS versions (name TEXT, version INTEGER, uri TEXT, metrics TEXT, "
                         "PRIMARY KEY (name, version))",
                         "CREATE TABLE IF NOT EXISTS aliases (name TEXT, alias TEXT, version INTEGER, "
                         "PRIMARY KEY (name, alias))",
                         "CREATE TABLE IF NOT EXISTS history (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT, "
                         "version INTEGER)",
                         "CREATE TABLE IF NOT EXISTS traffic (name TEXT, ref TEXT, weight REAL)"):
                self.db.execute(stmt)

    def _tx(self):
        """A context manager: one write transaction (optional helper, use it or not)."""
        db = self.db

        class Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")          # take the write lock before reading: no lost updates

            def __exit__(self, exc_type, *_):
                db.execute("ROLLBACK" if exc_type else "COMMIT")

        return Tx()

    def _resolve(self, name, ref):
        """The version number a ref (version or alias) stands for, or KeyError (optional helper)."""
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise KeyError(f"model {name!r}: a ref is a version number or an alias, got {ref!r}")
        if isinstance(ref, str):
            row = self.db.execute("SELECT version FROM aliases WHERE name = ? AND alias = ?", (name, ref)).fetchone()
            if row is None:
                raise KeyError(f"model {name!r} has no alias {ref!r}")
            return row[0]
        row = self.db.execute("SELECT 1 FROM versions WHERE name = ? AND version = ?", (name, ref)).fetchone()
        if row is None:
            raise KeyError(f"model {name!r} has no version {ref}")
        return ref

    def register(self, name, uri, metrics=None):
        (last,) = self.db.execute("SELECT COALESCE(MAX(version), 0) FROM versions WHERE name = ?", (name,)).fetchone()
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO versions VALUES (?, ?, ?, ?)", (name, last + 1, uri, json.dumps(metrics or {})))
        return last + 1

    def get(self, name, ref):
        version = self._resolve(name, ref)
        uri, metrics = self.db.execute("SELECT uri, metrics FROM versions WHERE name = ? AND version = ?",
                                       (name, version)).fetchone()
        return {"name": name, "version": version, "uri": uri, "metrics": json.loads(metrics)}

    def set_alias(self, name, alias, version):
        with self._tx():
            if isinstance(version, str):
                raise KeyError(f"model {name!r}: set_alias needs a version number, got {version!r}")
            self._resolve(name, version)
            self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, ?, ?)", (name, alias, version))

    def promote(self, name, version):
        with self._tx():
            self._resolve(name, version)
            row = self.db.execute("SELECT version FROM aliases WHERE name = ? AND alias = 'prod'", (name,)).fetchone()
            if row is not None:
                self.db.execute("INSERT INTO history (name, version) VALUES (?, ?)", (name, row[0]))
            self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, 'prod', ?)", (name, version))

    def rollback(self, name):
        with self._tx():
            row = self.db.execute("SELECT id, version FROM history WHERE name = ? ORDER BY id DESC LIMIT 1",
                                  (name,)).fetchone()
            if row is None:
                raise LookupError(f"model {name!r} has no earlier prod version to roll back to")
            self.db.execute("DELETE FROM history WHERE id = ?", (row[0],))
            self.db.execute("INSERT OR REPLACE INTO aliases VALUES (?, 'prod', ?)", (name, row[1]))
        return row[1]

    def set_traffic(self, name, split):
        split = dict(split)
        if not split or any(w < 0 for w in split.values()) or abs(sum(split.values()) - 1) > 1e-9:
            raise ValueError(f"traffic weights must be >= 0 and sum to 1, got {split}")
        with self._tx():
            for ref in split:
                self._resolve(name, ref)
            self.db.execute("DELETE FROM traffic WHERE name = ?", (name,))
            self.db.executemany("INSERT INTO traffic VALUES (?, ?, ?)",
                                [(name, json.dumps(ref), float(w)) for ref, w in split.items()])

    def route(self, name, request_id):
        rows = self.db.execute("SELECT ref, weight FROM traffic WHERE name = ? ORDER BY rowid", (name,)).fetchall()
        if not rows:
            return self._resolve(name, "prod")
        digest = hashlib.sha256(f"{name}\0{request_id}".encode()).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        acc = 0.0
        for ref, weight in rows:
            acc += weight
            if u < acc:
                return self._resolve(name, json.loads(ref))
        return self._resolve(name, json.loads(rows[-1][0]))
