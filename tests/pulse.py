"""Start (once) a private PulseAudio with a virtual speaker and microphone, as FIELD-NOTES describes."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


def ensure_pulse() -> str:
    if not shutil.which("pulseaudio"):
        raise RuntimeError("pulseaudio is missing: scripts/install.sh installs it")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if not runtime or not Path(runtime).is_dir():
        runtime = tempfile.mkdtemp(prefix="kaytoo-xdg-")
        os.chmod(runtime, 0o700)
        os.environ["XDG_RUNTIME_DIR"] = runtime
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
    subprocess.run(["pactl", "set-default-sink", "vsink"], check=True)
    subprocess.run(["pactl", "set-default-source", "vmic"], check=True)
    _reinit_portaudio()
    return runtime


def _reinit_portaudio() -> None:
    """PortAudio scans devices once at import: rescan now that the server exists."""
    import sounddevice as sd

    sd._terminate()
    sd._initialize()
