"""A throwaway PostgreSQL cluster for tests: initdb + pg_ctl in a temporary directory.

The server binaries come from scripts/ensure-postgres (which installs Debian's package when
missing and it can). Postgres refuses to run as root, so under root the cluster directory
belongs to the `postgres` user and every server command runs through `runuser`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class PostgresUnavailable(Exception):
    pass


def server_bin() -> Path:
    proc = subprocess.run([str(REPO / "scripts" / "ensure-postgres")], capture_output=True,
                          text=True, timeout=900, check=False)
    if proc.returncode != 0:
        raise PostgresUnavailable(proc.stderr.strip() or "scripts/ensure-postgres failed")
    return Path(proc.stdout.strip().splitlines()[-1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgCluster:
    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="crossway-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.root, user.pw_uid, user.pw_gid)
            self.root.chmod(0o700)
            self._prefix = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        return f"postgresql://crossway@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        proc = subprocess.run([*self._prefix, *args], capture_output=True, text=True,
                              timeout=120, check=False)
        if proc.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}):\n"
                               f"{proc.stdout}{proc.stderr}\n{log}")

    def init(self) -> PgCluster:
        # Trust on loopback only: the cluster lives for one test session on 127.0.0.1.
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "crossway",
                  "--auth=trust", "--no-sync", "--encoding=UTF8", "--no-locale")
        return self

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
                  "-o", opts, "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            if (self.data / "postmaster.pid").exists():
                self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
