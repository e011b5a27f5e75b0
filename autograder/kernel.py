"""A Jupyter kernel inside the grading sandbox, for ``nbgrader autograde``'s notebook execution.

nbgrader executes every submitted notebook top to bottom before grading. That kernel runs the student's
code, so it gets the same sandbox as the hidden-grader path (:mod:`autograder.sandbox`): it cannot see or
change the gradebook, the course directory, the graders or other submissions. Two pieces make that work:

* :class:`SandboxedKernelManager` (``c.Execute.kernel_manager_class``) gives each kernel a fresh private
  directory for its connection file and talks to it over ZeroMQ's ``ipc`` transport (unix sockets in that
  directory), since the sandbox has no network but its own loopback;
* the kernel spec ``autograder-sandbox`` (``c.Execute.kernel_name``, written by :func:`install_kernelspec`)
  starts ``python -m autograder.kernel -f {connection_file}``, which execs bubblewrap with the notebook's
  folder as a size-limited tmpfs over read-only binds of its files (the kernel may write files there;
  nothing reaches the disk), the kernel's private directory writable, and everything else as for grading.
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from . import sandbox

KERNEL_NAME = "autograder-sandbox"
KERNEL_MEMORY_MB = 12288       # vLLM's CPU server in Lab 2.5 needs several GB
KERNEL_PIDS = 2048


class SandboxedKernelManager(AsyncKernelManager):
    """Each kernel: a private 0700 directory, unix-socket transport, connection file inside it."""

    async def _async_pre_start_kernel(self, **kw):
        private = tempfile.mkdtemp(prefix="autograder-kernel-")
        self.transport = "ipc"
        self.ip = os.path.join(private, "k")
        self.connection_file = os.path.join(private, "kernel.json")
        return await super()._async_pre_start_kernel(**kw)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        private = os.path.dirname(self.connection_file or "")
        await super()._async_cleanup_resources(restart=restart)
        if private and os.path.basename(private).startswith("autograder-kernel-") and not restart:
            import shutil
            shutil.rmtree(private, ignore_errors=True)


def lab_of(cwd: Path) -> str | None:
    """nbgrader runs a submission's kernel in autograded/<student>/<lab>/: that folder's name is the lab."""
    from .build import labs
    return cwd.name if cwd.name in labs() else None


def kernel_command(connection_file: str, cwd: Path) -> list[str]:
    from .course import labkit_home, sandbox_paths
    private = str(Path(connection_file).resolve().parent)
    layout = sandbox.Layout(readonly=sandbox_paths(lab_of(cwd)), tmp_mb=2048, shm_mb=2048, cwd=str(cwd),
                            env={"PYTHONPATH": str(sandbox.REPO_ROOT), "LABKIT_HOME": str(labkit_home()),
                                 "JUPYTER_RUNTIME_DIR": private, "IPYTHONDIR": "/tmp/.ipython"})
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file]
    cmd = sandbox.command(argv, layout)
    # The notebook's folder: a size-limited tmpfs holding read-only binds of what is there, so the kernel may
    # write files beside the notebook (they vanish with it) but cannot change the submission or fill the disk.
    extra = ["--bind", private, private, "--size", str(512 << 20), "--tmpfs", str(cwd)]
    for entry in sorted(cwd.iterdir()):
        extra += ["--ro-bind", str(entry), str(entry)]
    split = cmd.index("--chdir")
    return cmd[:split] + extra + cmd[split:]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "-f":
        print("usage: python -m autograder.kernel -f CONNECTION_FILE", file=sys.stderr)
        return 2
    connection_file = args[1]
    if sandbox.unsandboxed_requested():
        os.execv(sys.executable, [sys.executable, "-m", "ipykernel_launcher", "-f", connection_file])
    problem = sandbox.check()
    if problem:
        print(f"autograder kernel: {problem}", file=sys.stderr)
        return 3
    cwd = Path.cwd().resolve()
    cmd = kernel_command(connection_file, cwd)
    group = sandbox.JobCgroup.create(KERNEL_MEMORY_MB, KERNEL_PIDS)
    cmd = group.wrap(cmd)
    os.execv(cmd[0], cmd)     # the cgroup outlives us; the pid namespace ends with the kernel
    return 0


def install_kernelspec(prefix: str | None = None) -> Path:
    """Write the ``autograder-sandbox`` kernel spec into ``<prefix>/share/jupyter/kernels`` (default: the venv)."""
    root = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / KERNEL_NAME
    root.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-m", "autograder.kernel", "-f", "{connection_file}"],
            "display_name": "Python 3 (autograder sandbox)", "language": "python",
            "env": {"PYTHONPATH": str(sandbox.REPO_ROOT)}, "metadata": {"debugger": False}}
    (root / "kernel.json").write_text(json.dumps(spec, indent=1))
    return root


if __name__ == "__main__":
    raise SystemExit(main())
