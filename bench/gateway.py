"""Benchmark: the LLM gateway's /v1 streaming path against direct calls and LiteLLM's proxy.

Run ``python -m bench.gateway`` (about 3 minutes) or ``python -m bench.gateway --quick``
(under 2 minutes). Every number is measured in one run, on one machine, against one fake:

* a fake OpenAI upstream in its own process (``bench/fake_upstream.py``: 20 tokens, one
  every 100 ms; non-streamed answers at once);
* ``llmforge up`` as a subprocess (its embedded nats-server is its child) with an admin, a
  personal API key, an OpenAI-compatible provider on the fake and a model alias on it;
* LiteLLM's proxy (its own venv, no database, telemetry off, local cost map, one worker)
  with a config.yaml mapping a model to the fake as ``openai/…`` with ``api_base``;
* the load generator (``bench/loadgen.py``) in its own process per phase, which reports
  its own CPU time.

The same load goes to three targets: ``direct`` (the fake itself), ``gateway`` and
``litellm``. Phases, each run against the targets in turn:

  steady      ~100 new streams/s, ~200 open at once, for --steady-seconds
  burst       200 streams written at the same instant on open connections
  throughput  non-streamed requests, 64 in flight, for --throughput-seconds

CPU per request is read from /proc/<pid>/stat (utime + stime) of each target's process
tree (``llmforge up`` + nats-server; LiteLLM's process and any children) before the phase
and after it, once the tree is quiet again (so the consumers' work that follows a call is
counted), divided by the requests of the phase. A separate gateway steady run is sampled
with py-spy; its top frames by self time are printed and written as text next to the
collapsed stacks. Results: a table on stdout, JSON and profile files in bench/results/.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import re
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_LITELLM_VENV = BENCH_DIR / ".venv-litellm"
VENV_BIN = Path(sys.executable).parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
HOST = "127.0.0.1"
PASSWORD = "bench-password-123"
TARGETS = ("direct", "gateway", "litellm")
PHASES = ("steady", "burst", "throughput")


# --- processes and their CPU time ----------------------------------------------------------


def proc_times(pid: int) -> tuple[float, float]:
    """(utime, stime) seconds of a live process, all its threads; zeros once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return 0.0, 0.0
    fields = raw[raw.rindex(b")") + 2 :].split()
    return int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK  # fields 14, 15 of stat(5)


def proc_cpu_seconds(pid: int) -> float:
    return sum(proc_times(pid))


def descendants(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            raw = Path(entry.path, "stat").read_bytes()
        except OSError:
            continue
        ppid = int(raw[raw.rindex(b")") + 2 :].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Service:
    """A process this benchmark started; its tree's CPU is what it costs."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    tree: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def refresh_tree(self) -> None:
        self.tree = [self.pid, *descendants(self.pid)]

    def cpu(self) -> float:
        return sum(proc_cpu_seconds(pid) for pid in self.tree or [self.pid])

    def sys_cpu(self) -> float:
        return sum(proc_times(pid)[1] for pid in self.tree or [self.pid])

    def cpu_by_process(self) -> dict[str, float]:
        out = {}
        for pid in self.tree or [self.pid]:
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                comm = "gone"
            out[f"{comm}[{pid}]"] = proc_cpu_seconds(pid)
        return out

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        # Children the process did not stop itself (it always should): by pid only.
        for pid in self.tree[1:]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def wait_http(url: str, service: Service, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as client:
        while True:
            if not service.alive():
                raise RuntimeError(f"{service.name} exited during start-up:\n{service.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{service.name} not ready in {timeout}s:\n{service.log_tail()}")
            time.sleep(0.1)


# --- the three services --------------------------------------------------------------------


def start_fake(workdir: Path, tokens: int, token_delay: float) -> Service:
    log = workdir / "fake.log"
    popen = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench.fake_upstream",
            "--tokens",
            str(tokens),
            "--token-delay",
            str(token_delay),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log.open("wb"),
    )
    service = Service("fake", popen, log)
    assert popen.stdout is not None
    ready, _, _ = select.select([popen.stdout], [], [], 20)
    if not ready:
        service.stop()
        raise RuntimeError("the fake upstream did not start")
    service.port = int(json.loads(popen.stdout.readline())["port"])
    return service


def llmforge_env(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"NATS_URL", "DATABASE_URL"}}
    env.update(
        LLMFORGE_DATA_DIR=str(data_dir),
        LLMFORGE_LOG_FORMAT="json",
        # Only the setup's one login hashes a password: keep it cheap.
        LLMFORGE_ARGON2_TIME_COST="1",
        LLMFORGE_ARGON2_MEMORY_KIB="1024",
        LLMFORGE_ARGON2_PARALLELISM="1",
        LLMFORGE_COOKIE_SECURE="off",
        NO_PROXY="*",
    )
    return env


def start_llmforge(workdir: Path, exe: Path, processes: int = 1) -> Service:
    data_dir = workdir / "llmforge-data"
    port = free_port()
    log = workdir / "llmforge.log"
    env = llmforge_env(data_dir)
    # The extra HTTP processes are children of `up`: their CPU is in its process tree.
    env["LLMFORGE_API_PROCESSES"] = str(processes)
    popen = subprocess.Popen(
        [str(exe), "up", "--host", HOST, "--port", str(port)],
        cwd=workdir,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Service("gateway", popen, log, port=port)


def setup_llmforge(service: Service, workdir: Path, fake: Service, exe: Path) -> dict[str, str]:
    """Admin, personal API key, provider on the fake, model alias ``bench``."""
    wait_http(f"http://{HOST}:{service.port}/health/ready", service, 60)
    env = llmforge_env(workdir / "llmforge-data")
    email = "bench@example.com"
    created = subprocess.run(
        [str(exe), "user", "create", "--email", email, "--password", PASSWORD, "--admin"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if created.returncode != 0:
        raise RuntimeError(f"llmforge user create failed: {created.stderr[-2000:]}")
    base = f"http://{HOST}:{service.port}"
    with httpx.Client(base_url=base, timeout=30.0, trust_env=False) as client:
        login = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
        login.raise_for_status()
        admin = {"Authorization": f"Bearer {login.json()['access_token']}"}
        key = client.post("/api/auth/api-keys", json={"name": "bench"}, headers=admin)
        key.raise_for_status()
        provider = client.post(
            "/api/providers",
            json={
                "name": "fake",
                "type": "openai-compatible",
                "base_url": f"http://{HOST}:{fake.port}/v1",
                "api_key": "sk-fake-upstream",
            },
            headers=admin,
        )
        provider.raise_for_status()
        model = client.post(
            "/api/models",
            json={
                "provider_id": provider.json()["id"],
                "model_id": "fake-model",
                "alias": "bench",
            },
            headers=admin,
        )
        model.raise_for_status()
    service.refresh_tree()
    return {"Authorization": f"Bearer {key.json()['key']}"}


def ensure_litellm(venv: Path) -> Path:
    """The LiteLLM proxy's executable; creates the venv (pip install) when it is missing."""
    exe = venv / "bin" / "litellm"
    if exe.exists():
        return exe
    print(f"creating {venv} and installing 'litellm[proxy]' (once; takes a few minutes)")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "litellm[proxy]"],
        check=True,
    )
    if not exe.exists():
        raise RuntimeError(f"{exe} missing after installing litellm[proxy]")
    return exe


def start_litellm(
    exe: Path, workdir: Path, fake: Service, workers: int = 1
) -> tuple[Service, dict[str, str]]:
    master_key = "sk-bench-" + secrets.token_hex(8)
    config = workdir / "litellm.yaml"
    # JSON is YAML: no YAML library needed here.
    config.write_text(
        json.dumps(
            {
                "model_list": [
                    {
                        "model_name": "bench",
                        "litellm_params": {
                            "model": "openai/fake-model",
                            "api_base": f"http://{HOST}:{fake.port}/v1",
                            "api_key": "sk-fake-upstream",
                        },
                    }
                ],
                "general_settings": {"master_key": master_key},
                "litellm_settings": {"telemetry": False},
            },
            indent=2,
        )
    )
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "DIRECT_URL"}}
    env.update(
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY="False",
        NO_PROXY="*",
    )
    port = free_port()
    log = workdir / "litellm.log"
    popen = subprocess.Popen(
        [
            str(exe),
            "--config",
            str(config),
            "--host",
            HOST,
            "--port",
            str(port),
            "--telemetry",
            "False",
            "--num_workers",
            str(workers),
        ],
        cwd=workdir,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    return Service("litellm", popen, log, port=port), {"Authorization": f"Bearer {master_key}"}


# --- phases --------------------------------------------------------------------------------


def run_loadgen(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "bench.loadgen"],
        cwd=ROOT,
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed ({done.returncode}): {done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def fake_stats(fake: Service) -> dict[str, int]:
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        stats: dict[str, int] = client.get(f"http://{HOST}:{fake.port}/_bench/stats").json()
        return stats


def settle(services: Sequence[Service], max_wait: float) -> float:
    """Wait until these trees burn (almost) no CPU: the work a phase caused is done."""
    started = time.monotonic()
    quiet = 0
    last = sum(s.cpu() for s in services)
    while time.monotonic() - started < max_wait:
        time.sleep(0.2)
        now = sum(s.cpu() for s in services)
        quiet = quiet + 1 if now - last <= 0.011 else 0  # at most one clock tick
        last = now
        if quiet >= 2:
            break
    return round(time.monotonic() - started, 2)


@dataclass
class Target:
    name: str
    port: int
    headers: dict[str, str]
    model: str
    service: Service  # whose CPU is the target's (the fake for direct)


class Bench:
    def __init__(self, args: argparse.Namespace, fake: Service, targets: list[Target]) -> None:
        self.args = args
        self.fake = fake
        self.targets = targets
        self.services = [fake] + [t.service for t in targets if t.service is not fake]

    def spec(self, target: Target, **extra: Any) -> dict[str, Any]:
        return {
            "host": HOST,
            "port": target.port,
            "path": "/v1/chat/completions",
            "headers": target.headers,
            "body": {
                "model": target.model,
                "messages": [{"role": "user", "content": "Count to twenty, please."}],
            },
            "tokens_expected": self.args.tokens,
            "token_interval": self.args.token_delay,
            **extra,
        }

    def measure(self, target: Target, spec: dict[str, Any], timeout: float) -> dict[str, Any]:
        for s in self.services:
            s.refresh_tree()
        cpu0 = {s.name: s.cpu() for s in self.services}
        sys0 = {s.name: s.sys_cpu() for s in self.services}
        procs0 = target.service.cpu_by_process()
        stats0 = fake_stats(self.fake)
        wall0 = time.monotonic()
        load = run_loadgen(spec, timeout)
        phase_s = time.monotonic() - wall0
        settled_s = settle([target.service, self.fake], self.args.settle_max)
        cpu1 = {s.name: s.cpu() for s in self.services}
        sys1 = {s.name: s.sys_cpu() for s in self.services}
        procs1 = target.service.cpu_by_process()
        stats1 = fake_stats(self.fake)
        requests = load.get("streams") or load.get("completed_total") or 0
        cpu = {name: cpu1[name] - cpu0[name] for name in cpu0}
        load["cpu_s"] = {k: round(v, 3) for k, v in cpu.items()}
        load["cpu_sys_share"] = {
            k: round((sys1[k] - sys0[k]) / v, 3) if v > 0 else None for k, v in cpu.items()
        }
        load["cpu_ms_per_request"] = {
            k: round(v * 1000 / requests, 4) if requests else None for k, v in cpu.items()
        }
        load["client_requests"] = requests
        load["target_cpu_ms_per_request_by_process"] = {
            name: round((procs1[name] - procs0.get(name, 0.0)) * 1000 / requests, 4)
            for name in procs1
            if requests
        }
        load["upstream_requests"] = stats1["requests"] - stats0["requests"]
        load["upstream_connections_opened"] = stats1["connections"] - stats0["connections"]
        load["phase_s"] = round(phase_s, 3)
        load["settle_s"] = settled_s
        return load

    def warm_up(self, target: Target) -> None:
        """Connections, caches and first-call paths, then a check that answers are whole."""
        spec = self.spec(target, mode="burst", count=20)
        burst = run_loadgen(spec, 60)
        if burst["errors"]:
            raise RuntimeError(f"{target.name}: warm-up streams failed: {burst['error_kinds']}")
        spec = self.spec(target, mode="throughput", concurrency=8, seconds=1.0, warmup=0.0)
        tp = run_loadgen(spec, 60)
        if tp["errors"] or tp["bad_bodies"] or not tp["requests"]:
            raise RuntimeError(f"{target.name}: warm-up requests failed: {tp}")

    def steady(self, target: Target, seconds: float) -> dict[str, Any]:
        # A stream may wait long for an overloaded proxy; 120 s is far above any healthy TTFT.
        spec = self.spec(target, mode="steady", rate=self.args.rate, seconds=seconds, timeout=120)
        return self.measure(target, spec, seconds + 300)

    def burst(self, target: Target) -> dict[str, Any]:
        spec = self.spec(target, mode="burst", count=self.args.burst, timeout=120)
        return self.measure(target, spec, 300)

    def throughput(self, target: Target) -> dict[str, Any]:
        spec = self.spec(
            target,
            mode="throughput",
            concurrency=self.args.concurrency,
            seconds=self.args.throughput_seconds,
            warmup=1.0,
        )
        return self.measure(target, spec, self.args.throughput_seconds + 60)


# --- py-spy --------------------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def short_file(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    root = str(ROOT) + "/"
    if path.startswith(root):
        return path[len(root) :]
    match = re.search(r"/lib/python3\.\d+/(.*)$", path)
    return f"<stdlib>/{match.group(1)}" if match else path


def area_of(file: str) -> str:
    """Group a frame's file: the package for libraries, the folder for llmforge's code."""
    if file.startswith("<stdlib>/"):
        rest = file[len("<stdlib>/") :]
        return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
    head = file.split("/", 1)[0].removesuffix(".py")
    if head in ("runtime", "handlers", "events") and "/" in file:
        parts = file.split("/")
        return "llmforge:" + "/".join(parts[:2]).removesuffix(".py")
    return head


# What a sampled stack was doing, first match wins (inclusive time).
ACTIVITIES = (
    ("sqlite worker thread (aiosqlite: SQL and commits)", re.compile(r"_connection_worker_thread")),
    ("auth: API key lookup + commit per request", re.compile(r"authenticate \(handlers/auth/")),
    ("gateway.open_stream: resolve, upstream call, 1st token", re.compile(r"Gateway\.open_stream")),
    ("gateway.complete (non-streamed call)", re.compile(r"Gateway\.complete")),
    (
        "token relay: adapter, ChatStream, SSE framing",
        re.compile(r"sse_chunks|ChatStream\._relay|HttpAdapter\.relay"),
    ),
    ("streaming response: litestar Stream -> uvicorn", re.compile(r"litestar/response/streaming")),
    (
        "consumers: usage, audit, webhooks",
        re.compile(r"handlers/(usage|audit|webhooks)|runtime/bus/"),
    ),
    ("call event publish (CallRecorder)", re.compile(r"CallRecorder")),
    ("nats client", re.compile(r"nats/aio/")),
    ("outbox relay", re.compile(r"runtime/outbox")),
    ("access log (request middleware)", re.compile(r"runtime/middleware\.py:5\d\)$")),
    ("other request handling: uvicorn, litestar", re.compile(r"httptools_impl|litestar/")),
    ("httpx/httpcore outside a request", re.compile(r"httpcore/|httpx/")),
    (
        "upstream connections opened / closed",
        re.compile(r"create_connection|_sock_connect|_call_connection_lost|connect_tcp"),
    ),
    ("SQLAlchemy in greenlets (auth, resolver, consumers)", re.compile(r"sqlalchemy/")),
    ("socket reads: transports, anyio StreamProtocol", re.compile(r"StreamProtocol|_read_ready")),
    ("event loop: select, callbacks, other", re.compile(r"")),
)
# The aiosqlite worker waiting on its queue: idle, though py-spy's --nonblocking samples
# cannot tell (the thread blocks in a lock acquire inside SimpleQueue.get).
IDLE_LEAF = re.compile(r"_connection_worker_thread \([^)]*aiosqlite/core\.py:\d+\)$")


def summarize_profile(raw: str, top: int) -> dict[str, Any]:
    self_time: Counter[str] = Counter()
    total_time: Counter[str] = Counter()
    area_self: Counter[str] = Counter()
    activity: Counter[str] = Counter()
    samples = idle = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        if IDLE_LEAF.search(stack):
            idle += count
            continue
        samples += count
        for name, pattern in ACTIVITIES:
            if pattern.search(stack):
                activity[name] += count
                break
        frames = []
        for frame in stack.split(";"):
            match = _FRAME.match(frame)
            if match is None or frame.startswith(("thread (", "process ")):
                continue  # process / thread labels
            file = short_file(match.group("file"))
            frames.append((f"{match.group('func')} ({file})", file))
        if not frames:
            continue
        leaf, leaf_file = frames[-1]
        self_time[leaf] += count
        area_self[area_of(leaf_file)] += count
        for name in {name for name, _ in frames}:
            total_time[name] += count

    def table(counter: Counter[str], n: int) -> list[dict[str, Any]]:
        return [
            {"frame": name, "samples": c, "share": round(c / samples, 4) if samples else 0.0}
            for name, c in counter.most_common(n)
        ]

    llmforge_total = Counter(
        {k: v for k, v in total_time.items() if re.search(r"\((runtime|handlers|events)/", k)}
    )
    return {
        "samples": samples,
        "idle_samples_excluded": idle,
        "by_activity": table(activity, len(ACTIVITIES)),
        "top_self": table(self_time, top),
        "top_self_by_area": table(area_self, top),
        "top_total_llmforge": table(llmforge_total, top),
    }


def profile_text(summary: dict[str, Any], seconds: float, rate: int, phase: str) -> str:
    lines = [
        f"py-spy, {seconds:g} s at {rate} Hz, gateway {phase} load: {summary['samples']} "
        f"non-idle samples (~{summary['samples'] / (seconds * rate):.0%} of one core, "
        f"all threads; {summary['idle_samples_excluded']} samples of the idle aiosqlite "
        "worker left out)",
        "",
    ]
    for title, key in (
        ("where the time goes (inclusive, by activity)", "by_activity"),
        ("top frames by self time", "top_self"),
        ("self time by area (library, or llmforge folder)", "top_self_by_area"),
        ("llmforge functions by total time (inclusive)", "top_total_llmforge"),
    ):
        lines.append(title + ":")
        for i, row in enumerate(summary[key], 1):
            lines.append(f"  {i:2}. {row['share'] * 100:5.1f}%  {row['samples']:6}  {row['frame']}")
        lines.append("")
    return "\n".join(lines)


def run_profile(bench: Bench, target: Target, stamp: str, phase: str) -> dict[str, Any] | None:
    py_spy = shutil.which("py-spy", path=str(VENV_BIN)) or shutil.which("py-spy")
    if py_spy is None:
        print("py-spy not found: `.venv/bin/pip install py-spy` to profile the gateway")
        return None
    seconds, rate = bench.args.profile_seconds, bench.args.profile_rate
    duration = math.ceil(seconds + 1)  # py-spy takes whole seconds
    raw_path = RESULTS_DIR / f"gateway-{stamp}-{phase}.pyspy-collapsed.txt"
    spy = subprocess.Popen(
        [
            *(py_spy, "record", "--pid", str(target.service.pid), "--nonblocking"),
            *("--rate", str(rate), "--duration", str(duration), "--format", "raw"),
            *("--output", str(raw_path)),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(0.5)
    if phase == "steady":
        load = bench.steady(target, seconds)
    else:
        saved = bench.args.throughput_seconds
        bench.args.throughput_seconds = seconds
        load = bench.throughput(target)
        bench.args.throughput_seconds = saved
    try:
        _, err = spy.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        spy.kill()
        _, err = spy.communicate()
    if not raw_path.exists():
        print(f"py-spy wrote nothing: {err.decode(errors='replace')[-1000:]}")
        return None
    summary = summarize_profile(raw_path.read_text(), bench.args.profile_top)
    text = profile_text(summary, duration, rate, phase)
    text_path = RESULTS_DIR / f"gateway-{stamp}-{phase}-profile.txt"
    text_path.write_text(text)
    return {
        "seconds": seconds,
        "rate": rate,
        "phase": phase,
        "collapsed_stacks": str(raw_path.relative_to(ROOT)),
        "summary_text": str(text_path.relative_to(ROOT)),
        "summary": summary,
        "load": load,
    }


# --- report --------------------------------------------------------------------------------


def _get(d: dict[str, Any] | None, *path: str) -> Any:
    for key in path:
        if not isinstance(d, dict):
            return None
        d = d.get(key)
    return d


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _ratio(a: Any, b: Any) -> float | None:
    if a is None or b is None or not b:
        return None
    return round(float(a) / float(b), 3)


def _diff(a: Any, b: Any) -> float | None:
    return None if a is None or b is None else round(a - b, 3)


def derive(phases: dict[str, dict[str, Any]], cpu_of: dict[str, str]) -> dict[str, Any]:
    """Added latency (target - direct), ratios, CPU per request of each target's tree."""
    out: dict[str, Any] = {}
    for phase in ("steady", "burst"):
        rows = phases.get(phase, {})
        direct = rows.get("direct")
        for name in ("gateway", "litellm"):
            row = rows.get(name)
            if row is None:
                continue
            added = {}
            for metric in ("ttft", "gap"):
                for q in ("p50_ms", "p99_ms"):
                    added[f"{metric}_{q}"] = _diff(_get(row, metric, q), _get(direct, metric, q))
            out.setdefault(phase, {})[name] = {
                "added_vs_direct": added,
                "cpu_ms_per_request": _get(row, "cpu_ms_per_request", cpu_of[name]),
                "errors": row.get("errors"),
                "stalls": row.get("stalls"),
            }
    tp = phases.get("throughput", {})
    rps = {name: _get(row, "rps") for name, row in tp.items()}
    out["throughput"] = {
        "rps": rps,
        "gateway_over_direct": _ratio(rps.get("gateway"), rps.get("direct")),
        "litellm_over_direct": _ratio(rps.get("litellm"), rps.get("direct")),
        "litellm_over_gateway": _ratio(rps.get("litellm"), rps.get("gateway")),
        "cpu_ms_per_request": {
            name: _get(row, "cpu_ms_per_request", cpu_of[name]) for name, row in tp.items()
        },
    }
    for phase in ("steady", "burst"):
        cpu = {n: _get(out, phase, n, "cpu_ms_per_request") for n in ("gateway", "litellm")}
        if phase in out:
            out[phase]["litellm_over_gateway_cpu"] = _ratio(cpu["litellm"], cpu["gateway"])
    return out


def report(result: dict[str, Any]) -> str:
    phases, derived, settings = result["phases"], result["derived"], result["settings"]
    names = [n for n in TARGETS if any(n in rows for rows in phases.values())]
    cpu_of = result["cpu_of"]
    table: list[tuple[str, ...]] = [("", *names, "gw/direct", "litellm/gw")]

    def value(phase: str, name: str, path: tuple[str, ...]) -> Any:
        if path == ("cpu",):
            return _get(phases, phase, name, "cpu_ms_per_request", cpu_of[name])
        if path == ("per_core",):
            cpu = _get(phases, phase, name, "cpu_ms_per_request", cpu_of[name])
            return round(1000 / cpu, 1) if cpu else None
        return _get(phases, phase, name, *path)

    def row(label: str, phase: str, *path: str, digits: int = 1, ratios: bool = True) -> None:
        values = {n: value(phase, n, path) for n in names}
        gw_direct = _ratio(values.get("gateway"), values.get("direct")) if ratios else None
        lite_gw = _ratio(values.get("litellm"), values.get("gateway")) if ratios else None
        cells = [_fmt(values[n], digits) for n in names]
        table.append((label, *cells, _fmt(gw_direct, 2), _fmt(lite_gw, 2)))

    def added(label: str, phase: str, metric: str) -> None:
        cells = ["-"]
        for n in names[1:]:
            a = _get(derived, phase, n, "added_vs_direct", f"{metric}_p50_ms")
            b = _get(derived, phase, n, "added_vs_direct", f"{metric}_p99_ms")
            cells.append(f"{_fmt(a)} / {_fmt(b)}")
        table.append((label, *cells, "", ""))

    def ok_errors(phase: str) -> None:
        cells = [f"{value(phase, n, ('ok',))}/{value(phase, n, ('errors',))}" for n in names]
        table.append(("  streams ok / errors", *cells, "", ""))

    def heading(text: str) -> None:
        table.append((text, *["" for _ in names], "", ""))

    open_max = max((value("steady", n, ("open_max",)) or 0) for n in names)
    heading(
        f"STEADY {settings['rate']:g} new streams/s x {settings['steady_seconds']:g} s, "
        f"{settings['tokens']} tokens every {settings['token_delay'] * 1000:g} ms "
        f"(up to {open_max} open)"
    )
    ok_errors("steady")
    row("  TTFT p50 ms", "steady", "ttft", "p50_ms")
    row("  TTFT p99 ms", "steady", "ttft", "p99_ms")
    added("  added TTFT p50 / p99 ms", "steady", "ttft")
    row("  token gap p50 ms", "steady", "gap", "p50_ms")
    row("  token gap p99 ms", "steady", "gap", "p99_ms")
    added("  added gap p50 / p99 ms", "steady", "gap")
    stall = _fmt(value("steady", "direct", ("stall_threshold_ms",)), 0)
    row(f"  stalls (gap > {stall} ms)", "steady", "stalls", ratios=False)
    row("  CPU ms per stream", "steady", "cpu", digits=3)
    row("  -> new streams/s per core (1000 / CPU ms)", "steady", "per_core")
    heading(f"BURST {settings['burst']} streams written at once")
    ok_errors("burst")
    row("  TTFT p50 ms", "burst", "ttft", "p50_ms")
    row("  TTFT p99 ms", "burst", "ttft", "p99_ms")
    added("  added TTFT p50 / p99 ms", "burst", "ttft")
    row("  token gap p99 ms", "burst", "gap", "p99_ms")
    row("  CPU ms per stream", "burst", "cpu", digits=3)
    heading(
        f"NON-STREAMED {settings['concurrency']} in flight x {settings['throughput_seconds']:g} s"
    )
    row("  requests/s", "throughput", "rps")
    row("  latency p50 ms", "throughput", "latency", "p50_ms", digits=2)
    row("  latency p99 ms", "throughput", "latency", "p99_ms", digits=2)
    row("  errors", "throughput", "errors", ratios=False)
    row("  CPU ms per request", "throughput", "cpu", digits=3)
    row("  -> requests/s per core (1000 / CPU ms)", "throughput", "per_core")

    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in table
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    lines.append("")
    lines.append(
        "CPU = utime+stime of the target's processes (direct: the fake; gateway: llmforge up "
        "+ nats-server; litellm: its proxy), phase start to quiet, / requests"
    )
    shares = []
    for phase in ("steady", "burst", "throughput"):
        per = [
            f"{n} {_fmt(value(phase, n, ('loadgen', 'cpu_share_of_one_core')), 2)}" for n in names
        ]
        shares.append(f"{phase}: " + ", ".join(per))
    lines.append("load generator CPU, share of one core - " + "; ".join(shares))
    conns = [
        f"{n} {value('steady', n, ('upstream_connections_opened',))} for "
        f"{value('steady', n, ('streams',))} streams"
        for n in names
    ]
    lines.append("connections the fake accepted during steady: " + ", ".join(conns))
    split = value("steady", "gateway", ("target_cpu_ms_per_request_by_process",))
    if split:
        parts = ", ".join(f"{k} {v}" for k, v in split.items())
        sys_share = value("steady", "gateway", ("cpu_sys_share", "gateway"))
        lines.append(
            f"gateway CPU ms per stream by process: {parts}; kernel (stime) share {sys_share}"
        )
    fake_cpu = [f"{n} {_fmt(value('steady', n, ('cpu_ms_per_request', 'fake')), 3)}" for n in names]
    lines.append("fake upstream CPU ms per stream during steady: " + ", ".join(fake_cpu))
    idle = result.get("idle_cpu_ms_per_s", {})
    lines.append("idle CPU, ms per s: " + ", ".join(f"{k} {v}" for k, v in idle.items()))
    machine = result["machine"]
    lines.append(
        f"load average {machine['load_average_before']} before, "
        f"{machine['load_average_after']} after, {machine['cpus']} CPUs"
    )
    targets = result.get("targets", {})
    lines.append(
        "targets: " + ", ".join(f"{k}: {'met' if v else 'MISSED'}" for k, v in targets.items())
    )
    prof = result.get("profile")
    if prof:
        lines.append("")
        text = (ROOT / prof["summary_text"]).read_text()
        lines.append(text.split("\n\nllmforge functions by total time")[0])
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


@contextlib.contextmanager
def started(services: list[Service]) -> Iterator[list[Service]]:
    try:
        yield services
    finally:
        for service in reversed(services):
            service.stop()


def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="llmforge-gwbench-"))
    load_before = round(os.getloadavg()[0], 2)
    t_start = time.monotonic()
    use_litellm = "litellm" in args.targets
    litellm_exe = ensure_litellm(Path(args.litellm_venv)) if use_litellm else None
    services: list[Service] = []
    try:
        with started(services):
            fake = start_fake(workdir, args.tokens, args.token_delay)
            services.append(fake)
            gateway = start_llmforge(workdir, Path(args.llmforge), args.api_processes)
            services.append(gateway)
            litellm = None
            if litellm_exe is not None:
                litellm, litellm_headers = start_litellm(
                    litellm_exe, workdir, fake, args.api_processes
                )
                services.append(litellm)
            gateway_headers = setup_llmforge(gateway, workdir, fake, Path(args.llmforge))
            targets = [
                Target("direct", fake.port, {}, "fake-model", fake),
                Target("gateway", gateway.port, gateway_headers, "bench", gateway),
            ]
            if litellm is not None:
                wait_http(f"http://{HOST}:{litellm.port}/health/liveliness", litellm, 180)
                litellm.refresh_tree()
                targets.append(Target("litellm", litellm.port, litellm_headers, "bench", litellm))
            bench = Bench(args, fake, targets)
            print(f"started in {time.monotonic() - t_start:.1f} s; warming up", flush=True)
            # Warm-ups are not measured: run them side by side to save time.
            with ThreadPoolExecutor(len(targets)) as pool:
                warming = [pool.submit(bench.warm_up, t) for t in targets if t.name in args.targets]
                for future in warming:
                    future.result()
            for s in bench.services:
                s.refresh_tree()
            settle(bench.services, args.settle_max)

            # Idle CPU of each platform, for reading the per-request numbers.
            for s in bench.services:
                s.refresh_tree()
            idle0 = {s.name: s.cpu() for s in bench.services}
            time.sleep(args.idle_seconds)
            idle = {
                s.name: round((s.cpu() - idle0[s.name]) * 1000 / args.idle_seconds, 2)
                for s in bench.services
            }

            phases: dict[str, dict[str, Any]] = {p: {} for p in PHASES if p in args.phases}
            for phase, rows in phases.items():
                for target in targets:
                    if target.name not in args.targets:
                        continue
                    print(f"{phase}: {target.name}", flush=True)
                    if phase == "steady":
                        rows[target.name] = bench.steady(target, args.steady_seconds)
                    elif phase == "burst":
                        rows[target.name] = bench.burst(target)
                    else:
                        rows[target.name] = bench.throughput(target)
            profile = None
            if args.profile_seconds > 0 and "gateway" in args.targets:
                print(f"profiling the gateway (py-spy) under {args.profile_phase} load", flush=True)
                profile = run_profile(bench, targets[1], stamp, args.profile_phase)
            process_cpu = {s.name: s.cpu_by_process() for s in bench.services}
    except BaseException:
        for service in services:
            if service.name != "fake":
                print(f"--- {service.name} log tail ---\n{service.log_tail()}", file=sys.stderr)
        raise
    finally:
        if not args.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    cpu_of = {"direct": "fake", "gateway": "gateway", "litellm": "litellm"}
    derived = derive(phases, cpu_of)
    steady_cpu = _get(derived, "steady", "gateway", "cpu_ms_per_request")
    burst_added = _get(derived, "burst", "gateway", "added_vs_direct", "ttft_p50_ms")
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_before": load_before,
            "load_average_after": round(os.getloadavg()[0], 2),
        },
        "settings": {k: v for k, v in vars(args).items()},
        "cpu_of": cpu_of,
        "idle_cpu_ms_per_s": idle,
        "phases": phases,
        "derived": derived,
        "targets": {
            "gateway_cpu_per_streamed_request_le_1ms": (
                steady_cpu is not None and steady_cpu <= 1.0
            ),
            "burst_added_ttft_p50_le_100ms": burst_added is not None and burst_added <= 100,
        },
        "process_cpu_total_s": process_cpu,
        "profile": profile,
        "wall_s": round(time.monotonic() - t_start, 1),
        "workdir": str(workdir) if args.keep_workdir else None,
    }
    out = RESULTS_DIR / f"gateway-{stamp}.json"
    out.write_text(json.dumps(result, indent=2))
    result["written_to"] = str(out.relative_to(ROOT))
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="shorter phases (< 2 minutes)")
    parser.add_argument("--rate", type=float, default=100.0, help="new streams per second")
    parser.add_argument("--tokens", type=int, default=20, help="tokens per streamed answer")
    parser.add_argument("--token-delay", type=float, default=0.1, help="s between tokens")
    parser.add_argument("--steady-seconds", type=float, default=None, help="20 (quick: 6)")
    parser.add_argument("--burst", type=int, default=200, help="streams started at once")
    parser.add_argument("--concurrency", type=int, default=64, help="non-streamed in flight")
    parser.add_argument("--throughput-seconds", type=float, default=None, help="10 (quick: 3)")
    parser.add_argument(
        "--profile-seconds", type=float, default=None, help="py-spy run; 0: none (15, quick: 4)"
    )
    parser.add_argument(
        "--profile-phase",
        choices=("steady", "throughput"),
        default="steady",
        help="the load the gateway is profiled under",
    )
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples/s")
    parser.add_argument("--profile-top", type=int, default=15)
    parser.add_argument("--idle-seconds", type=float, default=None, help="2 (quick: 1)")
    parser.add_argument("--settle-max", type=float, default=6.0, help="s to wait for quiet")
    parser.add_argument(
        "--litellm-venv",
        default=str(DEFAULT_LITELLM_VENV),
        help="venv with litellm[proxy]; created (pip) when missing [bench/.venv-litellm]",
    )
    parser.add_argument("--no-litellm", action="store_true", help="skip LiteLLM's proxy")
    parser.add_argument(
        "--llmforge",
        default=str(VENV_BIN / "llmforge"),
        help="the llmforge executable to run `up` with (to compare a variant) [this venv's]",
    )
    parser.add_argument(
        "--targets",
        default=",".join(TARGETS),
        help="comma-separated subset of " + ",".join(TARGETS),
    )
    parser.add_argument(
        "--phases", default=",".join(PHASES), help="comma-separated subset of " + ",".join(PHASES)
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="HTTP processes of the gateway (LLMFORGE_API_PROCESSES); LiteLLM's proxy gets "
        "as many workers (--num_workers) [1]",
    )
    parser.add_argument("--keep-workdir", action="store_true", help="keep data dirs and logs")
    args = parser.parse_args(argv)
    args.targets = [t for t in args.targets.split(",") if t in TARGETS]
    if args.no_litellm and "litellm" in args.targets:
        args.targets.remove("litellm")
    args.phases = [p for p in args.phases.split(",") if p in PHASES]
    if args.steady_seconds is None:
        args.steady_seconds = 6.0 if args.quick else 20.0
    if args.throughput_seconds is None:
        args.throughput_seconds = 3.0 if args.quick else 10.0
    if args.idle_seconds is None:
        args.idle_seconds = 1.0 if args.quick else 2.0
    if args.profile_seconds is None:
        args.profile_seconds = 4.0 if args.quick else 15.0
    result = run(args)
    print()
    print(report(result))
    print(f"\nwritten to {result['written_to']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
