"""A standalone Spark cluster for the tests: one master and two workers on 127.0.0.1, started
from the scripts bundled in the pyspark package (SPARK_HOME = the package's folder) and
stopped at the end; and a Spark Connect server (the connect jar ships in pyspark 4). `url` is
what a spec's `engine: {type: pyspark, master: ...}` takes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engines.postgres_server import free_port


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).resolve().parent


class SparkCluster:
    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g") -> None:
        self.home = spark_home()
        self.port = free_port()
        self.workers, self.cores, self.memory = workers, cores, memory
        self.root = Path(tempfile.mkdtemp(prefix="northstar-spark-"))
        self.processes: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ, SPARK_HOME=str(self.home), SPARK_LOCAL_IP="127.0.0.1", SPARK_NO_DAEMONIZE="1",
                   SPARK_LOG_DIR=str(self.root), SPARK_WORKER_DIR=str(self.root / "work"),
                   PYSPARK_PYTHON=sys.executable)
        env.pop("SPARK_CONF_DIR", None)
        return env

    def _spawn(self, name: str, *args: str) -> None:
        log = self.root / f"{name}.log"
        with log.open("wb") as out:
            self.processes.append(subprocess.Popen(
                [str(self.home / "bin" / "spark-class"), *args], stdout=out, stderr=subprocess.STDOUT,
                env=self._env(), cwd=self.root, start_new_session=True))
        self.logs.append(log)

    def start(self, timeout: float = 90) -> "SparkCluster":
        self._spawn("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(free_port()))
        for i in range(self.workers):
            self._spawn(f"worker{i}", "org.apache.spark.deploy.worker.Worker", self.url, "--host", "127.0.0.1",
                        "--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(free_port()),
                        "--work-dir", str(self.root / f"work{i}"))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            master_log = self.logs[0].read_text(errors="replace")
            if master_log.count("Registering worker") >= self.workers:
                return self
            dead = [p for p in self.processes if p.poll() is not None]
            if dead:
                break
            time.sleep(0.2)
        text = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}" for log in self.logs)
        self.stop()
        raise RuntimeError(f"the Spark cluster did not start:\n{text}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> "SparkCluster":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SparkConnectServer(SparkCluster):
    """A Spark Connect server on 127.0.0.1 (local[2] behind it); `url` is `sc://127.0.0.1:PORT`."""

    def __init__(self) -> None:
        super().__init__(workers=0)

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "SparkConnectServer":
        log = self.root / "connect.log"
        with log.open("wb") as out:
            self.processes.append(subprocess.Popen(
                [str(self.home / "bin" / "spark-submit"), "--class",
                 "org.apache.spark.sql.connect.service.SparkConnectServer", "--master", "local[2]",
                 "--conf", f"spark.connect.grpc.binding.port={self.port}",
                 "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
                 "--conf", "spark.ui.enabled=false", "--conf", f"spark.sql.warehouse.dir={self.root / 'warehouse'}"],
                stdout=out, stderr=subprocess.STDOUT, env=self._env(), cwd=self.root, start_new_session=True))
        self.logs.append(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "Spark Connect server started" in log.read_text(errors="replace"):
                return self
            if self.processes[0].poll() is not None:
                break
            time.sleep(0.2)
        text = log.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"the Spark Connect server did not start:\n{text}")
