"""The processes under test: spawn (pinned with taskset where the OS allows), wait for them to
listen, read their CPU time and resident memory from /proc, stop them."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# The CPUs this run may use, read before the harness pins itself to the load generator's.
CPUS = sorted(os.sched_getaffinity(0))


def can_pin() -> bool:
    return shutil.which("taskset") is not None and len(CPUS) >= 2


def clean_env(extra: Mapping[str, str]) -> dict[str, str]:
    scrub = ("OPENCODE_", "CROSSWAY_", "ANTHROPIC_", "OPENAI_", "LITELLM_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(scrub)}
    env.update(extra)
    return env


class Proc:
    """A child process with its log in a temporary file."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str],
                 cpu: int | None, port: int) -> None:
        self.name = name
        self.port = port
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the process
            prefix=f"bench-{name}-", suffix=".log", delete=False)
        cmd = list(argv)
        if can_pin():
            # Unpinned (cpu None) means every CPU, not the harness's own mask it would inherit.
            cpus = str(cpu) if cpu is not None else ",".join(map(str, CPUS))
            cmd = ["taskset", "-c", cpus, *cmd]
        self.started = time.perf_counter()
        self.popen = subprocess.Popen(cmd, env=dict(env), stdout=self.log,
                                      stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def pids(self) -> list[int]:
        """This process and its children (crossway --workers N, LiteLLM's workers)."""
        out, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            out.append(pid)
            with contextlib.suppress(OSError):
                for task in os.listdir(f"/proc/{pid}/task"):
                    kids = Path(f"/proc/{pid}/task/{task}/children").read_text().split()
                    todo.extend(int(k) for k in kids)
        return out

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p) for p in self.pids())

    def rss_bytes(self) -> int:
        return sum(rss_bytes(p) for p in self.pids())

    def wait_listening(self, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n"
                                   f"{self.logs()[-3000:]}")
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return time.perf_counter() - self.started
            time.sleep(0.005)
        self.stop()
        raise RuntimeError(f"{self.name} did not listen on {self.port}:\n{self.logs()[-3000:]}")

    def logs(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=5)
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


def cpu_seconds(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except OSError:
        return 0


def python() -> str:
    return sys.executable


def upstream(port: int, cpu: int | None) -> Proc:
    argv = [python(), "-m", "bench.upstream", "--port", str(port)]
    return Proc("upstream", argv, clean_env({"PYTHONPATH": str(ROOT)}), cpu, port)


def floor(port: int, upstream_base: str, cpu: int | None) -> Proc:
    argv = [python(), "-m", "bench.floor", "--port", str(port), "--upstream", upstream_base]
    return Proc("floor", argv, clean_env({"PYTHONPATH": str(ROOT)}), cpu, port)


# Another source tree to run crossway from (bench/run --crossway-src), for before/after runs.
CROSSWAY_SRC = os.environ.get("BENCH_CROSSWAY_SRC", "")


def crossway(port: int, upstream_base: str, cpu: int | None, workers: int = 1,
             log_level: str = "INFO", name: str = "crossway", src: str | None = None,
             module: str = "crossway", env: Mapping[str, str] | None = None) -> Proc:
    """crossway from `src` (default: --crossway-src, else the installed one), or another
    module that runs it (bench.bare), with `env` on top of the bench's own."""
    argv = [python(), "-m", module, "serve", "--port", str(port)]
    if workers > 1:
        argv += ["--workers", str(workers)]
    full = clean_env({"OPENCODE_GO_API_KEY": "bench-key", "OPENCODE_GO_BASE_URL": upstream_base,
                      "CROSSWAY_LOG_LEVEL": log_level,
                      # Recording on, as users run it, into a store of the bench's own.
                      "XDG_DATA_HOME": tempfile.mkdtemp(prefix="crossway-bench-data-"),
                      **(env or {})})
    src = src if src is not None else CROSSWAY_SRC
    # The tree under test first; the repository after it when a bench module runs crossway.
    path = [p for p in (src, str(ROOT) if module != "crossway" else "") if p]
    if path:
        full["PYTHONPATH"] = ":".join(path)
    return Proc(name, argv, full, cpu, port)


LITELLM_KEY = "sk-bench-" + secrets.token_hex(16)  # LiteLLM refuses to start without one
LITELLM_VENV = ROOT / "bench" / ".venv-litellm"


def litellm_available() -> bool:
    return (LITELLM_VENV / "bin" / "litellm").exists()


def litellm(port: int, upstream_base: str, cpu: int | None) -> Proc:
    root = upstream_base.rsplit("/v1", 1)[0]
    config = Path(tempfile.mkdtemp(prefix="bench-litellm-")) / "config.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: opencode-go/glm-5.1\n"
        "    litellm_params:\n"
        "      model: openai/glm-5.1\n"
        f"      api_base: {upstream_base}\n"
        "      api_key: bench-key\n"
        "  - model_name: opencode-go/minimax-m2.7\n"
        "    litellm_params:\n"
        "      model: anthropic/minimax-m2.7\n"
        f"      api_base: {root}\n"
        "      api_key: bench-key\n"
        "litellm_settings:\n"
        "  drop_params: true\n"
        "  telemetry: false\n"
    )
    argv = [str(LITELLM_VENV / "bin" / "litellm"), "--config", str(config), "--port", str(port),
            "--host", "127.0.0.1", "--num_workers", "1"]
    # Anthropic clients to an OpenAI model over chat/completions, as crossway does (LiteLLM
    # would otherwise use the Responses API, which the fake upstream does not serve).
    env = clean_env({"LITELLM_MASTER_KEY": LITELLM_KEY, "LITELLM_LOG": "ERROR",
                     "LITELLM_USE_CHAT_COMPLETIONS_URL_FOR_ANTHROPIC_MESSAGES": "True",
                     "LITELLM_TELEMETRY": "False",
                     "LITELLM_LOCAL_MODEL_COST_MAP": "True", "DISABLE_SCHEMA_UPDATE": "True",
                     "NO_DOCS": "True"})
    return Proc("litellm", argv, env, cpu, port)

