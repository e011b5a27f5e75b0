# verify ignores the published head (truncation goes unnoticed)
"""An append-only audit log with tamper detection (a hash chain), stored as JSON lines.

An entry is a dict with the keys ENTRY_FIELDS plus "hash": "seq" is its position (0, 1, 2, ...), "ts" a
number, "actor"/"action"/"resource" strings, "prev" the "hash" of the previous entry (GENESIS for the
first one) and "hash" = entry_digest(entry).

`verify_chain(entries, head=None)` returns None when the list is intact, else the index of the first
entry that does not check out: an entry that is not a dict with all of ENTRY_FIELDS and "hash", whose
"seq" is not its index, whose "prev" is not the previous entry's "hash" (GENESIS for index 0), or whose
"hash" is not entry_digest(entry). With `head = (n, h)` (a count and hash published earlier, e.g. by
`AuditLog.head()`): after the chain itself checks out, fewer than n entries returns len(entries) (the
first missing one), and entries[n - 1]["hash"] != h returns n - 1.

`AuditLog(path)` opens the log file (creating it when missing); an existing file is read (one JSON
object per line) and verified first: `TamperedLogError(index)` if it fails. `append(actor, action,
resource, ts=None)` adds one entry (ts defaults to time.time()), writes it as one line at the end of the
file, and returns a copy of it; safe to call from many threads at once. `entries()` returns copies of all
entries; `head()` returns (number of entries, hash of the last entry or GENESIS).
"""


def verify_chain(entries, head=None):
    prev = GENESIS
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or any(k not in e for k in (*ENTRY_FIELDS, "hash")):
            return i
        try:
            digest = entry_digest(e)
        except (TypeError, ValueError):
            return i
        if e["seq"] != i or e["prev"] != prev or e["hash"] != digest:
            return i
        prev = e["hash"]
    if False:
        n, h = head
        if len(entries) < n:
            return len(entries)
        if n > 0 and entries[n - 1]["hash"] != h:
            return n - 1
    return None


class AuditLog:
    def __init__(self, path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._entries = []
        if self.path.exists():
            lines = [ln for ln in self.path.read_text(encoding="utf-8").splitlines() if ln.strip()]
            for i, line in enumerate(lines):
                try:
                    self._entries.append(json.loads(line))
                except ValueError:
                    raise TamperedLogError(i) from None
            bad = verify_chain(self._entries)
            if bad is not None:
                raise TamperedLogError(bad)
        else:
            self.path.touch()

    def append(self, actor: str, action: str, resource: str, ts=None) -> dict:
        with self._lock:
            prev = self._entries[-1]["hash"] if self._entries else GENESIS
            entry = {"seq": len(self._entries), "ts": time.time() if ts is None else ts, "actor": actor,
                     "action": action, "resource": resource, "prev": prev}
            entry["hash"] = entry_digest(entry)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._entries.append(entry)
            return dict(entry)

    def entries(self) -> list:
        with self._lock:
            return [dict(e) for e in self._entries]

    def head(self) -> tuple:
        with self._lock:
            return (len(self._entries), self._entries[-1]["hash"] if self._entries else GENESIS)
