"""The voice library on disk, with real audio made by espeak-ng and ffmpeg."""
from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile

import numpy as np
import pytest
import soundfile as sf

from app.bootstrap import asset_dir
from app.errors import UserError
from app.voices.library import VoiceLibrary

LONG_TEXT = ("The quick brown fox jumps over the lazy dog. A droid never forgets a face, "
             "but it may choose to ignore it. Please speak clearly into the microphone.")


@pytest.fixture
def lib(tmp_path) -> VoiceLibrary:
    return VoiceLibrary(tmp_path / "voices", asset_dir() / "voices")


@pytest.fixture(scope="session")
def long_wav(speak):
    return speak(LONG_TEXT, name="long", rate=24000)


def convert(src, dst) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), str(dst)], check=True)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundled_voice_is_listed_and_protected(lib):
    [kaytoo] = lib.list()
    assert kaytoo.name == "Kaytoo" and kaytoo.bundled and kaytoo.duration_s > 5
    assert kaytoo.latents_dir.is_relative_to(lib.root)  # latents never written into the assets
    with pytest.raises(UserError, match="built-in"):
        lib.remove("Kaytoo")
    with pytest.raises(UserError, match="built-in"):
        lib.rename("kaytoo", "Other")


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg"])
def test_add_each_format_keeps_the_original_untouched(lib, long_wav, tmp_path, ext):
    src = tmp_path / f"clip.{ext}"
    convert(long_wav, src)
    before = digest(src)
    v = lib.add("Narrator", src)
    assert digest(src) == before
    assert (v.folder / f"original.{ext}").read_bytes() == src.read_bytes()
    data, rate = sf.read(v.reference_wav)
    assert rate == 24000 and data.ndim == 1 and v.duration_s >= 3
    rms_db = 20 * np.log10(np.sqrt(np.mean(data ** 2)))
    assert -23 < rms_db < -17  # loudness-normalised to about -20 dBFS
    assert lib.get("narrator").name == "Narrator"
    assert v.ref().reference_wav == v.reference_wav


def test_bad_clips_are_refused_with_reasons_and_nothing_written(lib, speak, tmp_path):
    short = speak("Hi.", name="short")
    silence = tmp_path / "silence.wav"
    sf.write(silence, np.zeros(16000 * 5, np.float32), 16000)
    png = tmp_path / "photo.wav"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(4096))
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("hello " * 100)
    cases = [(short, "at least 3 seconds"), (silence, "silent"), (png, "not an audio file"),
             (empty, "empty"), (text, "not an audio file")]
    for path, reason in cases:
        with pytest.raises(UserError, match=reason):
            lib.add("Bad", path)
    assert [v.name for v in lib.list()] == ["Kaytoo"]
    assert not [p for p in lib.root.glob("*") if not p.name.startswith(".")] if lib.root.exists() else True


def test_too_long_is_trimmed_with_a_warning(lib, long_wav, tmp_path):
    data, rate = sf.read(long_wav)
    looped = tmp_path / "long.wav"
    sf.write(looped, np.tile(data, 6), rate)  # ~60 s
    v = lib.add("Long", looped)
    assert v.duration_s <= 20.5 and any("trimmed" in w for w in v.warnings)
    with pytest.raises(UserError, match="limit is 30 seconds"):
        lib.add("Long2", looped, trim=False)


def test_clipped_clip_is_refused(lib, long_wav, tmp_path):
    data, rate = sf.read(long_wav)
    hot = tmp_path / "hot.wav"
    sf.write(hot, np.clip(data * 40, -1, 1), rate)
    with pytest.raises(UserError, match="clipped"):
        lib.add("Hot", hot)


def test_names_rename_remove_undo(lib, long_wav):
    lib.add("Narrator", long_wav)
    with pytest.raises(UserError, match="already"):
        lib.add("narrator", long_wav)
    with pytest.raises(UserError, match="1 to 40"):
        lib.add("../evil", long_wav)
    v = lib.rename("Narrator", "Story Teller")
    assert v.slug == "story-teller" and lib.get("story teller").name == "Story Teller"
    token = lib.remove("Story Teller")
    assert [x.name for x in lib.list()] == ["Kaytoo"]
    assert lib.undo_remove(token).name == "Story Teller"
    with pytest.raises(UserError, match="no voice named 'Storyteler'. Did you mean"):
        lib.get("Storyteler")


def test_fuzzy_find(lib, long_wav):
    lib.add("Narrator", long_wav)
    assert lib.find("the narator voice").name == "Narrator"
    assert lib.find("bananas") is None


def test_export_import_round_trip(lib, long_wav, tmp_path):
    lib.add("Narrator", long_wav)
    z = lib.export("Narrator", tmp_path / "n.zip")
    other = VoiceLibrary(tmp_path / "other")
    v = other.import_zip(z)
    assert v.name == "Narrator"
    assert abs(v.duration_s - lib.get("Narrator").duration_s) < 0.1


def _zip(path, entries: dict[str, bytes], link: str | None = None):
    with zipfile.ZipFile(path, "w") as z:
        for name, data in entries.items():
            z.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = (0o120777 << 16)
            z.writestr(info, "/etc/passwd")
    return path


def test_malicious_zips_are_rejected_and_nothing_escapes(lib, long_wav, tmp_path):
    good = {"voice.json": json.dumps({"name": "Z"}).encode(), "reference.wav": long_wav.read_bytes()}
    cases = {
        "traversal": ({**good, "../evil.txt": b"x"}, None, "unsafe path"),
        "absolute": ({**good, "/tmp/evil.txt": b"x"}, None, "unsafe path"),
        "link": (good, "reference2.wav", "link"),
        "extra": ({**good, "run.sh": b"rm -rf"}, None, "unexpected file"),
        "missing": ({"voice.json": good["voice.json"]}, None, "missing reference.wav"),
        "badjson": ({**good, "voice.json": b"{nope"}, None, "unreadable voice.json"),
    }
    for label, (entries, link, reason) in cases.items():
        z = _zip(tmp_path / f"{label}.zip", entries, link)
        with pytest.raises(UserError, match=reason):
            lib.import_zip(z)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("voice.json", good["voice.json"])
        z.writestr("reference.wav", bytes(60_000_000))
    with pytest.raises(UserError, match="limit is 50 MB"):
        lib.import_zip(bomb)
    not_zip = tmp_path / "x.zip"
    not_zip.write_text("plain text")
    with pytest.raises(UserError, match="not a zip"):
        lib.import_zip(not_zip)
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()
    assert [v.name for v in lib.list()] == ["Kaytoo"]


def test_microphone_samples(lib, long_wav):
    data, rate = sf.read(long_wav, dtype="float32")
    v = lib.add_samples("Mic", data, rate)
    assert v.duration_s > 3 and not (v.folder / "original.wav").exists()
