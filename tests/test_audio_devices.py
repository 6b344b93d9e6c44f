"""Devices: clear messages when there are none or a named one is missing, and a re-scan that
finds a sound server (a device) that appeared after start-up — the hot-plug case.

PortAudio's device list is global to a process, so the no-device cases run in a child process
whose sound server is not there at first.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

from app.audio import devices
from app.audio.playback import Player
from app.errors import UserError
from tests.conftest import REPO

CHILD = r"""
import json, os, sys
import numpy as np
from app.audio import devices
from app.audio.capture import Recorder
from app.audio.playback import Player, tone
from app.errors import UserError

out = {"before": [d.name for d in devices.list_devices()]}
for kind in ("input", "output"):
    try:
        devices.pick(None, kind)
    except UserError as e:
        out[f"no_{kind}"] = str(e)
try:
    Recorder(None).start()
except UserError as e:
    out["recorder"] = str(e)
os.environ["XDG_RUNTIME_DIR"] = sys.argv[1]        # the sound server is "plugged in"
out["without_rescan"] = [d.name for d in devices.list_devices()]
devices.rescan()
out["after"] = [d.name for d in devices.list_devices()]
rec = Recorder(None)
rec.open()
out["flowing"] = rec.wait_flowing(10)
rec.begin()
player = Player()
player.start()
player.play_clip(tone(440, 0.5), 48000)
out["played"] = player.wait_done(10)
player.close()
audio = rec.stop()
out["peak"] = float(np.abs(audio).max())
print(json.dumps(out))
"""


def test_default_and_named_devices_on_the_virtual_card(pulse):
    names = [d.name for d in devices.list_devices()]
    assert names, "the virtual sound card shows up"
    mic, speaker = devices.pick(None, "input"), devices.pick(None, "output")
    assert mic.inputs > 0 and speaker.outputs > 0
    assert devices.pick(mic.name, "input") == mic
    assert devices.pick(mic.name.upper()[:3], "input").name.lower().startswith(mic.name.lower()[:3])
    assert devices.names("input") and devices.names("output")


def test_a_missing_named_device_is_a_plain_message(pulse):
    with pytest.raises(UserError) as e:
        devices.pick("Headset That Is Not There", "input")
    assert str(e.value) == ("The input device 'Headset That Is Not There' is not connected; "
                            "plug it in or choose another in Settings.")
    with pytest.raises(UserError, match="output device 'Nope' is not connected"):
        Player("Nope").start()


def test_no_devices_then_hot_plug_found_by_a_rescan(pulse):
    empty = tempfile.mkdtemp(prefix="kaytoo-nosound-")
    os.chmod(empty, 0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": empty, "PYTHONPATH": str(REPO)}
    env.pop("PULSE_SERVER", None)
    run = subprocess.run([sys.executable, "-c", CHILD, pulse], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["before"] == []
    assert out["no_input"] == "No audio input device was found; plug one in or check the sound settings."
    assert out["no_output"] == "No audio output device was found; plug one in or check the sound settings."
    assert out["recorder"] == out["no_input"]
    assert out["without_rescan"] == [], "PortAudio does not see new devices by itself"
    assert out["after"], "after a re-scan the new devices are there"
    assert out["played"] and out["peak"] > 0.05, "and they work: the tone came back on the mic"
