"""Fixtures for the browser tests: a private JupyterLab server and headless Debian Chromium.

The server runs on a free localhost port in a temporary copy of ``notebooks/`` with its own
Jupyter config, data, runtime and IPython directories (the user's are never touched), no token,
no browser, and news and update checks off. It is started with ``GAN_L2_QUICK=1`` so every
kernel it starts runs the notebooks in quick mode.

Without ``/usr/bin/chromium`` or the ``playwright`` package the tests are skipped with the
reason; with ``GAN_L2_REQUIRE_BROWSER=1`` (set by ``.ci/run``) they fail instead, so CI cannot
pass without having run them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
ARTIFACTS = ROOT / "test-artifacts" / "browser"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
REQUIRE_ENV = "GAN_L2_REQUIRE_BROWSER"
SERVER_START_TIMEOUT_S = 90

# JupyterLab user settings: no news feed, no update check (both would reach the internet and
# pop up a notification a new user has to dismiss).
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab in headless Chromium (needs /usr/bin/chromium, playwright)")


def browser_missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    missing = []
    if not CHROMIUM.is_file():
        missing.append(f"{CHROMIUM} not found (install it: apt-get install -y chromium)")
    if importlib.util.find_spec("playwright") is None:
        missing.append("Python package playwright not installed (pip install -e '.[dev]')")
    return "; ".join(missing) or None


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by playwright; skip (or fail under CI) without one."""
    reason = browser_missing_reason()
    if reason:
        message = f"browser tests not run: {reason}"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{message} ({REQUIRE_ENV}=1 requires them)", pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LabServer:
    """A running JupyterLab: ``url`` (no trailing slash), ``root`` (its notebook folder)."""

    def __init__(self, url: str, root: Path, process: subprocess.Popen, log: Path) -> None:
        self.url, self.root, self.process, self.log = url, root, process, log

    def kernels(self) -> list[dict]:
        with urllib.request.urlopen(f"{self.url}/api/kernels", timeout=10) as resp:
            return json.load(resp)


@pytest.fixture(scope="session")
def lab_server(chromium, tmp_path_factory):
    """JupyterLab on a free localhost port serving a temporary copy of ``notebooks/``."""
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    shutil.copytree(NOTEBOOKS, root, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    config_dir = base / "config"
    for rel, settings in LAB_USER_SETTINGS.items():
        path = config_dir / "lab" / "user-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    # A second kernel, as many users have: with only one, JupyterLab starts it for a notebook
    # without a kernelspec and the "Select Kernel" dialog this test looks for never shows.
    decoy = base / "data" / "kernels" / "decoy"
    decoy.mkdir(parents=True)
    (decoy / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Decoy (a second kernel; must not be needed)", "language": "python",
    }))
    env = dict(os.environ)
    env.update(
        GAN_L2_QUICK="1",  # kernels inherit the server's environment
        JUPYTER_CONFIG_DIR=str(config_dir),
        JUPYTER_DATA_DIR=str(base / "data"),
        JUPYTER_RUNTIME_DIR=str(base / "runtime"),
        IPYTHONDIR=str(base / "ipython"),
    )
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "jupyterlab-server.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        "--ServerApp.open_browser=False", f"--ServerApp.root_dir={root}",
        "--ServerApp.allow_root=True",  # containers and CI often run as root
        "--IdentityProvider.token=", "--PasswordIdentityProvider.hashed_password=",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",  # the default would query PyPI
    ]
    with open(log, "w") as log_file:
        process = subprocess.Popen(cmd, env=env, cwd=root, stdout=log_file, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    server = LabServer(url, root, process, log)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"JupyterLab exited with code {process.returncode}; see {log}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not answer within {SERVER_START_TIMEOUT_S} s; see {log}",
                                pytrace=False)
                time.sleep(0.3)
        yield server
    finally:
        process.terminate()  # SIGTERM: jupyter_server stops and shuts its kernels down
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
