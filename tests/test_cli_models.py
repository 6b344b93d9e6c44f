"""`kaytoo models …` run as a real process against a real HTTP server on 127.0.0.1.

The built-in catalogue pins the hub's real files, so the fake models here come in through the
supported extra catalogue (KAYTOO_MODEL_CATALOGUE) and the mirror variable (KAYTOO_MODEL_MIRROR).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.engines.models import MARKER, TOS_FILE, TOS_TEXT
from tests.conftest import REPO as SOURCE_ROOT

REV = "0123456789abcdef0123456789abcdef01234567"
CPML = "CPML (Coqui Public Model License, non-commercial)"


class ModelServer:
    """Serves ``files`` ({"<repo>/<name>": bytes}) at /<repo>/resolve/<REV>/<name>, with Range.

    With ``pause`` = (file name, n): the first request for that file gets n bytes, then the
    handler sets ``paused`` and holds the connection until ``release`` is set.
    """

    def __init__(self, files: dict[str, bytes], pause: tuple[str, int] | None = None):
        self.files, self.pause = files, pause
        self.requests: list[tuple[str, str | None]] = []
        self.paused, self.release = threading.Event(), threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                try:
                    self._get()
                except (BrokenPipeError, ConnectionResetError):  # the client went away: its business
                    self.close_connection = True

            def _get(self):
                server.requests.append((self.path, self.headers.get("Range")))
                m = re.fullmatch(rf"/(.+)/resolve/{REV}/([^/]+)", self.path)
                data = server.files.get(f"{m.group(1)}/{m.group(2)}") if m else None
                if data is None:
                    self.send_error(404, "no such file")
                    return
                start = 0
                r = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
                if r:
                    start = int(r.group(1))
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                hold = server.pause is not None and m.group(2) == server.pause[0] \
                    and not server.paused.is_set()
                if not hold:
                    self.wfile.write(data[start:])
                    return
                self.wfile.write(data[start:start + server.pause[1]])
                self.wfile.flush()
                server.paused.set()
                server.release.wait(30)
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "ModelServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def entry(name: str, kind: str, licence: str, files: dict[str, bytes], **extra) -> dict:
    return {"name": name, "kind": kind, "licence": licence, "repo": f"test/{name}", "revision": REV,
            "files": [{"name": n, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
                      for n, d in files.items()], **extra}


@pytest.fixture
def toy() -> dict[str, bytes]:
    return {"config.json": b'{"toy": true}\n', "model.bin": random.Random(3).randbytes(1_500_000)}


@pytest.fixture
def fake_xtts() -> dict[str, bytes]:
    rng = random.Random(5)
    return {"config.json": b'{"model": "xtts"}\n', "vocab.json": b'{"vocab": {}}\n',
            "model.pth": rng.randbytes(300_000)}


@pytest.fixture
def catalogue(tmp_path, toy, fake_xtts) -> Path:
    """A catalogue file adding 'toy' and replacing 'xtts-v2' with a small stand-in."""
    path = tmp_path / "catalogue.json"
    path.write_text(json.dumps({"models": [
        entry("toy", "stt", "MIT", toy, note="a test model"),
        entry("xtts-v2", "tts", CPML, fake_xtts, needs_consent=True)]}))
    return path


def served(toy, fake_xtts) -> dict[str, bytes]:
    files = {f"test/toy/{n}": d for n, d in toy.items()}
    files.update({f"test/xtts-v2/{n}": d for n, d in fake_xtts.items()})
    return files


def env_for(server: ModelServer | None, catalogue: Path | None = None) -> dict[str, str]:
    env = dict(os.environ)   # KAYTOO_HOME comes from the autouse fixture
    env.pop("KAYTOO_MODEL_CATALOGUE", None)
    env["KAYTOO_MODEL_MIRROR"] = server.url if server else "http://127.0.0.1:9"  # nothing listens
    if catalogue is not None:
        env["KAYTOO_MODEL_CATALOGUE"] = str(catalogue)
    return env


def kaytoo(env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "app", "models", *args], capture_output=True,
                         text=True, timeout=60, env=env, cwd=SOURCE_ROOT)
    assert "Traceback" not in out.stderr, out.stderr
    assert out.returncode == code, out.stderr
    return out


def one_line(out: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, out.stderr
    assert out.stdout == ""
    return lines[0]


def listed(env: dict[str, str]) -> dict[str, dict]:
    return {m["name"]: m for m in json.loads(kaytoo(env, "list", "--json").stdout)["models"]}


def test_list_json_shows_the_bundled_model():
    out = kaytoo(env_for(None), "list", "--json")
    models = {m["name"]: m for m in json.loads(out.stdout)["models"]}
    assert set(models["tiny.en"]) == {"name", "kind", "size_bytes", "licence", "installed",
                                      "bundled", "note", "needs_consent"}
    assert models["tiny.en"]["installed"] and models["tiny.en"]["bundled"]
    assert models["tiny.en"]["kind"] == "stt" and models["tiny.en"]["size_bytes"] > 70_000_000
    xtts = models["xtts-v2"]
    assert not xtts["installed"] and xtts["needs_consent"] and "non-commercial" in xtts["licence"]
    assert out.stderr == ""
    human = kaytoo(env_for(None), "list").stdout
    assert re.search(r"^tiny\.en\s+stt\s+\d+ MB\s+bundled\s+MIT$", human, re.M)


def test_download_shows_progress_then_list_and_remove(kaytoo_home, catalogue, toy, fake_xtts):
    with ModelServer(served(toy, fake_xtts)) as srv:
        env = env_for(srv, catalogue)
        assert not listed(env)["toy"]["installed"]
        out = kaytoo(env, "download", "toy")
        folder = kaytoo_home / "data" / "models" / "toy"
        assert out.stdout.strip() == f"toy installed in {folder}"
        updates = re.findall(r"toy:\s+(\d+)% \(([\d.]+) of ([\d.]+) MB\)", out.stderr)
        assert len(updates) >= 3
        percents = [int(p) for p, _, _ in updates]
        assert percents == sorted(percents) and percents[-1] == 100
        assert updates[-1][1:] == ("1.5", "1.5")
        assert out.stderr.endswith("\n")            # the progress line is ended
        for name, data in toy.items():
            assert (folder / name).read_bytes() == data
        assert (folder / MARKER).is_file() and not list(folder.glob("*.part"))

        asked = len(srv.requests)
        again = kaytoo(env, "download", "toy", "--json")  # installed: no network, one JSON object
        assert json.loads(again.stdout) == {"model": "toy", "path": str(folder), "warnings": []}
        assert again.stderr == "" and len(srv.requests) == asked

    info = listed(env)["toy"]
    assert info["installed"] and not info["bundled"] and info["size_bytes"] == 1_500_014
    removed = kaytoo(env, "remove", "toy", "--json")
    assert json.loads(removed.stdout) == {"removed": "toy"}
    assert not folder.exists()
    assert not [p.name for p in folder.parent.iterdir()]   # nothing set aside is left over
    assert not listed(env)["toy"]["installed"]
    assert "not downloaded" in one_line(kaytoo(env, "remove", "toy", code=2))
    assert "cannot be removed" in one_line(kaytoo(env, "remove", "tiny.en", code=2))
    assert listed(env)["tiny.en"]["installed"]


def _read_until(proc: subprocess.Popen, pattern: str, timeout: float = 30) -> str:
    """Read the process's stderr until ``pattern`` appears (select with a deadline, no sleeping)."""
    fd, buf = proc.stderr.fileno(), b""
    deadline = time.monotonic() + timeout
    while not re.search(pattern.encode(), buf):
        left = deadline - time.monotonic()
        assert left > 0, f"no {pattern!r} on stderr: {buf!r}"
        if select.select([fd], [], [], left)[0]:
            block = os.read(fd, 4096)
            assert block, f"stderr closed before {pattern!r}: {buf!r}"
            buf += block
    return buf.decode()


def test_interrupted_download_resumes_on_the_next_run(kaytoo_home, catalogue, toy, fake_xtts):
    total = sum(map(len, toy.values()))
    with ModelServer(served(toy, fake_xtts), pause=("model.bin", 400_000)) as srv:
        env = env_for(srv, catalogue)
        # Ctrl-C as a terminal delivers it: a run started in the background (CI, `cmd &`)
        # passes SIGINT on ignored, and the interrupted download would never hear it.
        proc = subprocess.Popen([sys.executable, "-m", "app", "models", "download", "toy"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=SOURCE_ROOT,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            assert srv.paused.wait(30), "the download never reached model.bin"
            _read_until(proc, r"toy:\s+[1-9]\d*%")   # a chunk of model.bin is on disk
            proc.send_signal(signal.SIGINT)            # the user presses Ctrl-C
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 130
        assert b"Traceback" not in err
        folder = kaytoo_home / "data" / "models" / "toy"
        kept = (folder / "model.bin.part").stat().st_size
        assert 0 < kept < len(toy["model.bin"])
        assert not (folder / MARKER).exists()
        assert not listed(env)["toy"]["installed"]

        out = kaytoo(env, "download", "toy", "--json")
        assert json.loads(out.stdout)["path"] == str(folder)
        model_asks = [rng for path, rng in srv.requests if path == f"/test/toy/resolve/{REV}/model.bin"]
        assert model_asks == [None, f"bytes={kept}-"]   # the second run resumed, not restarted
    assert (folder / "model.bin").read_bytes() == toy["model.bin"]
    assert not (folder / "model.bin.part").exists()
    assert listed(env)["toy"]["size_bytes"] == total and listed(env)["toy"]["installed"]


def test_xtts_download_needs_the_licence_accepted(kaytoo_home, toy, fake_xtts):
    settings_file = kaytoo_home / "config" / "settings.toml"
    xtts_dir = kaytoo_home / "data" / "models" / "xtts-v2"
    with ModelServer(served(toy, fake_xtts)) as srv:   # the real XTTS files are not served here
        env = env_for(srv)
        line = one_line(kaytoo(env, "download", "xtts-v2", code=2))
        assert "Coqui Public Model License" in line and "non-commercial" in line
        assert "--accept-licence" in line
        assert srv.requests == [] and not xtts_dir.exists() and not settings_file.exists()

        line = one_line(kaytoo(env, "download", "xtts-v2", "--accept-licence", "--json", code=2))
        assert "config.json" in line and "HTTP 404" in line
    settings = tomllib.loads(settings_file.read_text())
    assert settings["tts"]["xtts_consent"] is True      # the consent stands; the download failed
    assert not (xtts_dir / TOS_FILE).exists() and not (xtts_dir / MARKER).exists()
    assert not listed(env)["xtts-v2"]["installed"]


def test_consented_xtts_download_leaves_coquis_consent_file(kaytoo_home, catalogue, toy, fake_xtts,
                                                           monkeypatch):
    from TTS.utils.manage import ModelManager   # coqui's own check, as it runs at load time

    monkeypatch.delenv("COQUI_TOS_AGREED", raising=False)
    with ModelServer(served(toy, fake_xtts)) as srv:
        env = env_for(srv, catalogue)
        assert "non-commercial" in one_line(kaytoo(env, "download", "xtts-v2", code=2))
        out = kaytoo(env, "download", "xtts-v2", "--accept-licence", "--json")
    folder = Path(json.loads(out.stdout)["path"])
    assert folder == kaytoo_home / "data" / "models" / "xtts-v2"
    for name, data in fake_xtts.items():
        assert (folder / name).read_bytes() == data
    assert (folder / TOS_FILE).read_text() == TOS_TEXT
    assert not [p.name for p in folder.iterdir() if p.name.startswith(f".{TOS_FILE}")]  # no temp
    assert ModelManager.tos_agreed({"tos_required": True}, str(folder))
    assert not ModelManager.tos_agreed({"tos_required": True}, str(folder.parent))
    settings = tomllib.loads((kaytoo_home / "config" / "settings.toml").read_text())
    assert settings["tts"]["xtts_consent"] is True
    assert listed(env)["xtts-v2"]["installed"]

    kaytoo(env, "remove", "xtts-v2")
    assert not folder.exists() and not listed(env)["xtts-v2"]["installed"]


def test_unknown_model_and_bad_catalogue_are_one_line_errors(tmp_path):
    env = env_for(None)
    for action in ("download", "remove"):
        line = one_line(kaytoo(env, action, "no-such-model", code=2))
        assert "Unknown model 'no-such-model'" in line and "tiny.en" in line
    assert "required" in one_line(kaytoo(env, "download", code=2))
    assert "invalid choice" in one_line(kaytoo(env, "rename", "toy", code=2))

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": [{"name": "x", "kind": "stt", "licence": "MIT", "repo": "a/b",
                                           "revision": "main",
                                           "files": [{"name": "model.bin", "size": 3}]}]}))
    line = one_line(kaytoo(env_for(None, bad), "list", code=2))
    assert str(bad) in line and "sha256" in line
    bad.write_text('{"models": [')
    assert "not valid JSON" in one_line(kaytoo(env_for(None, bad), "list", code=2))
    line = one_line(kaytoo(env_for(None, tmp_path / "missing.json"), "list", code=2))
    assert "does not exist" in line


def test_remove_while_another_process_downloads(kaytoo_home, catalogue, toy, fake_xtts):
    with ModelServer(served(toy, fake_xtts), pause=("model.bin", 400_000)) as srv:
        env = env_for(srv, catalogue)
        proc = subprocess.Popen([sys.executable, "-m", "app", "models", "download", "toy", "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                cwd=SOURCE_ROOT)
        try:
            assert srv.paused.wait(30), "the download never reached model.bin"
            kaytoo(env, "remove", "toy")        # another process: only the folder tells them apart
            srv.release.set()                   # the downloader's connection now ends early
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 2 and out == "" and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "Could not write" in err and "model.bin" in err, err
    models = kaytoo_home / "data" / "models"
    assert not (models / "toy").exists() and not list(models.iterdir())


def test_remove_refuses_a_model_this_process_is_downloading(tmp_path, toy, fake_xtts, catalogue,
                                                           monkeypatch):
    from app.engines.models import ModelStore
    from app.errors import UserError

    monkeypatch.setenv("KAYTOO_MODEL_CATALOGUE", str(catalogue))
    with ModelServer(served(toy, fake_xtts), pause=("model.bin", 400_000)) as srv:
        store = ModelStore(tmp_path / "models", base_url=srv.url, retries=0)
        leftover = tmp_path / "models" / ".toy.removing-0badf00d"   # a crashed earlier removal
        (leftover / "sub").mkdir(parents=True)
        result: list = []

        def download() -> None:
            try:
                result.append(store.download("toy"))
            except UserError as e:
                result.append(e)

        worker = threading.Thread(target=download)
        worker.start()
        assert srv.paused.wait(30)
        with pytest.raises(UserError, match="toy is being downloaded; cancel"):
            store.remove("toy")
        srv.release.set()
        worker.join(30)
        assert "run it again to resume" in str(result[0])   # dropped (retries=0)
        assert not leftover.exists()                        # swept when the download began
        assert store.download("toy") == tmp_path / "models" / "toy"   # resumes
        store.remove("toy")
    assert not list((tmp_path / "models").iterdir())


def test_consent_file_follows_the_users_choice(tmp_path, toy, fake_xtts, catalogue, monkeypatch):
    from app.engines.models import ModelStore

    monkeypatch.setenv("KAYTOO_MODEL_CATALOGUE", str(catalogue))
    with ModelServer(served(toy, fake_xtts)) as srv:
        store = ModelStore(tmp_path / "models", base_url=srv.url, retries=0)
        folder = store.download("xtts-v2")          # the caller did not say the user accepted
        tos = folder / TOS_FILE
        assert not tos.exists()
        asked = len(srv.requests)
        assert store.download("xtts-v2", accept_licence=True) == folder   # in place: no network
        assert tos.read_text() == TOS_TEXT and len(srv.requests) == asked
    store.record_consent("xtts-v2", accepted=False)  # the user withdrew consent in Settings
    assert not tos.exists()
    store.record_consent("xtts-v2")
    assert tos.read_text() == TOS_TEXT
    store.record_consent("tiny.en")                 # no licence to accept: nothing is written
    assert not (tmp_path / "models" / "tiny.en").exists()
