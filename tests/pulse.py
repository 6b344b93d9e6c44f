"""A private PulseAudio with a virtual speaker and microphone, as FIELD-NOTES describes; whoever
starts it stops it (``PrivatePulse.stop``): the session fixture and the benchmarks do."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path


class PrivatePulse:
    """The server in use: ``runtime`` is its XDG_RUNTIME_DIR; ``pid`` is set when we started it."""

    def __init__(self, runtime: str, pid: int | None, made_dir: bool, old_env: str | None):
        self.runtime, self.pid = runtime, pid
        self._made_dir, self._old_env = made_dir, old_env

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the daemon we started (one that was already running is not ours to stop)."""
        if self.pid is not None:
            _terminate(self.pid, timeout)
            self.pid = None
        if self._made_dir:
            shutil.rmtree(self.runtime, ignore_errors=True)
            if self._old_env is None:
                os.environ.pop("XDG_RUNTIME_DIR", None)
            else:
                os.environ["XDG_RUNTIME_DIR"] = self._old_env


def start_pulse() -> PrivatePulse:
    if not shutil.which("pulseaudio"):
        raise RuntimeError("pulseaudio is missing: scripts/install.sh installs it")
    old_env = os.environ.get("XDG_RUNTIME_DIR")
    runtime, made_dir = old_env, False
    if not runtime or not Path(runtime).is_dir():
        runtime, made_dir = tempfile.mkdtemp(prefix="kaytoo-xdg-"), True
        os.chmod(runtime, 0o700)
        os.environ["XDG_RUNTIME_DIR"] = runtime
    pid = None
    if subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
        subprocess.run(
            ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit=yes", "-n",
             "--load=module-native-protocol-unix",
             "--load=module-null-sink sink_name=vsink rate=48000 channels=2",
             "--load=module-remap-source master=vsink.monitor source_name=vmic"],
            check=True, capture_output=True)
        deadline = time.monotonic() + 10
        while subprocess.run(["pactl", "info"], capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("PulseAudio did not start within 10 s")
            time.sleep(0.05)
        pid = int((Path(runtime) / "pulse" / "pid").read_text().split()[0])
    subprocess.run(["pactl", "set-default-sink", "vsink"], check=True)
    subprocess.run(["pactl", "set-default-source", "vmic"], check=True)
    _reinit_portaudio()
    return PrivatePulse(runtime, pid, made_dir, old_env)


def _terminate(pid: int, timeout: float) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while _alive(pid):   # a daemon is not our child: poll until it is gone
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = time.monotonic() + timeout
        time.sleep(0.02)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"   # a zombie has exited; its parent (init) reaps it


def _reinit_portaudio() -> None:
    """PortAudio scans devices once at import: rescan now that the server exists."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
