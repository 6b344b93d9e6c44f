"""The voice library on disk, with real speech from espeak-ng and real ffmpeg conversions."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from app import paths
from app.runtime import asset_dir
from app.errors import UserError
from app.voices import validate
from app.voices.library import VoiceLibrary, slugify
from app.voices.waveform import load_waveform, peaks, waveform

TEXT = ("The quick brown fox jumps over the lazy dog. A droid never forgets a face, "
        "but it may choose to ignore it. Please speak clearly into the microphone.")


@pytest.fixture
def lib() -> VoiceLibrary:
    return VoiceLibrary(paths.resolve().voices, asset_dir() / "voices")


@pytest.fixture(scope="session")
def speech(speak) -> Path:
    """About 10 s of espeak-ng speech at 24 kHz."""
    return speak(TEXT, name="voices-long", rate=24000)


@pytest.fixture(scope="session")
def speech_data(speech) -> tuple[np.ndarray, int]:
    data, rate = sf.read(speech, dtype="float32")
    return data, rate


def convert(src: Path, dst: Path) -> Path:
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(src), str(dst)], check=True)
    return dst


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def user_folders(lib: VoiceLibrary) -> list[str]:
    """Everything in the library folder but the bundled voice's latents holder."""
    if not lib.root.exists():
        return []
    return sorted(p.name for p in lib.root.iterdir() if p.name not in ("kaytoo", ".trash"))


def names(lib: VoiceLibrary) -> list[str]:
    return [v.name for v in lib.list()]


# -- adding ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "ogg"])
def test_add_each_format_normalises_and_keeps_the_original(lib, speech, tmp_path, ext):
    src = convert(speech, tmp_path / f"clip.{ext}")
    before = sha(src)
    v = lib.add("Narrator", src)
    assert sha(src) == before  # the user's file is only read
    assert (v.folder / f"original.{ext}").read_bytes() == src.read_bytes()
    info = sf.info(str(v.reference_wav))
    assert (info.samplerate, info.channels, info.subtype) == (24000, 1, "PCM_16")
    data, _ = sf.read(v.reference_wav)
    assert -21.5 < 20 * np.log10(np.sqrt(np.mean(data ** 2))) < -18.5  # about -20 dBFS RMS
    assert np.max(np.abs(data)) <= 10 ** (-1 / 20) + 1e-3                # -1 dBFS peak ceiling
    assert 8 < v.duration_s < 11.5 and v.warnings == []
    assert v.latents_dir == v.folder / "latents" and v.latents_dir.is_dir()
    ref = v.ref()
    assert (ref.name, ref.reference_wav, ref.latents_dir, ref.language) == \
        ("Narrator", v.reference_wav, v.latents_dir, "en")
    assert lib.get("NARRATOR") == v and names(lib) == ["Kaytoo", "Narrator"]
    meta = json.loads((v.folder / "voice.json").read_text())
    assert meta["reference_sha256"] == sha(v.reference_wav) and meta["source"] == {"file": src.name}
    assert json.loads(json.dumps(v.to_dict()))["slug"] == "narrator"


def test_leading_and_trailing_silence_is_trimmed(lib, speech_data, tmp_path):
    data, rate = speech_data
    padded = tmp_path / "padded.wav"
    sf.write(padded, np.concatenate([np.zeros(rate * 3), data, np.zeros(rate * 4)]), rate)
    v = lib.add("Padded", padded)
    assert v.duration_s < len(data) / rate + 0.5


@pytest.mark.parametrize("kind", ["int16-stereo", "float-mono"])
def test_microphone_take_becomes_a_voice(lib, speech_data, kind):
    data, rate = speech_data
    if kind == "int16-stereo":
        take = (np.stack([data, data], axis=1) * 20000).astype(np.int16)
    else:
        take = data * 0.3
    v = lib.add_samples("Mic", take, rate)
    assert v.duration_s > 8
    kept, kept_rate = sf.read(v.folder / "original.wav", dtype=take.dtype, always_2d=False)
    assert kept_rate == rate and np.array_equal(kept, take)  # the take as recorded


def _refused(lib: VoiceLibrary, path: Path, reason: str, **kw) -> None:
    before = (names(lib), user_folders(lib))
    with pytest.raises(UserError, match=reason):
        lib.add("Bad", path, **kw)
    assert (names(lib), user_folders(lib)) == before  # nothing written, no temp folder left


def test_files_that_are_not_usable_audio_are_refused(lib, speech, tmp_path):
    png = tmp_path / "photo.wav"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    text = tmp_path / "notes.wav"
    text.write_text("this is not audio\n" * 50)
    short = tmp_path / "short.wav"
    data, rate = sf.read(speech)
    sf.write(short, data[int(0.3 * rate):int(0.5 * rate)], rate)  # 0.2 s from inside a word
    silence = tmp_path / "silence.flac"
    sf.write(silence, np.zeros(16000 * 5), 16000)
    tone = tmp_path / "tone.wav"
    sf.write(tone, 0.3 * np.sin(np.arange(16000 * 5) * 2 * np.pi * 440 / 16000), 16000)
    for path, reason in [(png, "not an audio file"), (empty, r"empty \(0 bytes\)"),
                         (text, "not an audio file"), (tmp_path / "missing.wav", "does not exist"),
                         (short, r"0\.2 seconds long.*at least 3 seconds of speech"),
                         (silence, "silent"), (tone, "No speech")]:
        _refused(lib, path, reason)


def test_too_long_is_trimmed_to_the_best_part_or_refused(lib, speech_data, tmp_path):
    data, rate = speech_data
    long = tmp_path / "long.wav"
    sf.write(long, np.tile(np.concatenate([data, np.zeros(rate // 2)]), 6), rate)  # ~65 s
    _refused(lib, long, "at most 30 seconds", trim=False)
    v = lib.add("Long", long)
    assert 15 <= v.duration_s <= 20.5
    assert [w for w in v.warnings if "trimmed to its best" in w]


def test_clipping_warns_then_refuses(lib, speech_data, tmp_path):
    data, rate = speech_data
    hot, burnt = tmp_path / "hot.wav", tmp_path / "burnt.wav"
    sf.write(hot, np.clip(data * 2, -1, 1), rate)
    sf.write(burnt, np.clip(data * 10, -1, 1), rate)
    _refused(lib, burnt, "clipped")
    v = lib.add("Hot", hot)
    assert [w for w in v.warnings if "clipped" in w]


def test_noise_and_level_problems_are_named(lib, speech_data, tmp_path):
    data, rate = speech_data
    rng = np.random.default_rng(7)
    level = np.sqrt(np.mean(data ** 2))

    def noisy(snr_db: float) -> Path:
        path = tmp_path / f"noisy{snr_db}.wav"
        noise = rng.standard_normal(len(data)) * level / 10 ** (snr_db / 20)
        sf.write(path, np.clip(data + noise, -1, 1), rate, subtype="FLOAT")
        return path

    _refused(lib, noisy(0), "too noisy")
    v = lib.add("Noisy", noisy(10))
    assert [w for w in v.warnings if "background is noisy" in w]
    whisper = tmp_path / "whisper.wav"
    sf.write(whisper, data * 10 ** (-32 / 20), rate, subtype="FLOAT")
    v = lib.add("Quiet", whisper)
    assert [w for w in v.warnings if "quiet" in w]
    data_ref, _ = sf.read(v.reference_wav)
    assert -21.5 < 20 * np.log10(np.sqrt(np.mean(data_ref ** 2))) < -18.5
    too_quiet = tmp_path / "too-quiet.wav"
    sf.write(too_quiet, data * 10 ** (-45 / 20), rate, subtype="FLOAT")
    _refused(lib, too_quiet, "too quiet")


def test_best_window_cuts_in_pauses():
    # 40 s of 1.5 s words separated by 0.5 s pauses (20 ms frames), a pause at each end
    word, pause = [True] * 75, [False] * 25
    voiced = np.array((pause + word) * 20 + pause)
    a, b = validate.best_window(voiced)
    assert validate.TRIM_MIN_S <= (b - a) * validate.FRAME_S <= validate.TRIM_MAX_S
    assert not voiced[a] and not voiced[b - 1]  # both ends inside a pause, not mid-word


# -- names, rename, remove ------------------------------------------------------------------------
def test_names_are_checked(lib, speech):
    lib.add("Narrator", speech)
    for bad, reason in [("narrator", "already a voice named 'Narrator'"), ("KAYTOO", "already"),
                        ("", "needs a name"), ("   ", "needs a name"), ("x" * 41, "at most 40"),
                        ("../evil", "only hold letters"), ("a/b", "only hold letters"),
                        ("--", "at least one letter")]:
        with pytest.raises(UserError, match=reason):
            lib.add(bad, speech)
    with pytest.raises(UserError, match="not a language code"):
        lib.add("French", speech, language="French!")
    v = lib.add("  Zoë   the_Droid ", speech, language="FR")
    assert (v.name, v.slug, v.language) == ("Zoë the_Droid", "zoe-the-droid", "fr")
    assert slugify("旁白").startswith("voice-")
    # Different names that share a slug get their own folders.
    assert lib.add("Story Teller", speech).slug == "story-teller"
    assert lib.add("story-teller", speech).slug == "story-teller-2"


def test_rename_remove_undo(lib, speech):
    lib.add("Narrator", speech)
    lib.add("Pilot", speech)
    with pytest.raises(UserError, match="already a voice named 'Pilot'"):
        lib.rename("Narrator", "pilot")
    v = lib.rename("narrator", "Story Teller")
    assert (v.name, v.slug, v.folder.name) == ("Story Teller", "story-teller", "story-teller")
    assert not (lib.root / "narrator").exists() and (v.folder / "original.wav").is_file()
    assert lib.rename("Story Teller", "STORY teller").name == "STORY teller"  # case only: same folder
    token = lib.remove("story teller")
    assert names(lib) == ["Kaytoo", "Pilot"] and (lib.root / ".trash" / token).is_dir()
    lib.add("Story Teller", speech)  # the name was reused meanwhile: undo must not clobber it
    with pytest.raises(UserError, match="already a voice named 'Story Teller'"):
        lib.undo_remove(token)
    lib.remove("Story Teller")
    restored = lib.undo_remove(token)
    assert restored.name == "STORY teller" and (restored.folder / "original.wav").is_file()
    for bad in (token, "../../etc", "nonsense"):
        with pytest.raises(UserError, match="nothing to undo"):
            lib.undo_remove(bad)
    with pytest.raises(UserError, match="no voice named 'Pilto'. Did you mean 'Pilot'"):
        lib.get("Pilto")


def test_bundled_voice_is_read_only_and_its_latents_live_in_the_data_folder(lib, tmp_path):
    [kaytoo] = lib.list()
    assert kaytoo.bundled and kaytoo.name == "Kaytoo" and kaytoo.language == "en"
    assert 8 < kaytoo.duration_s < 15 and kaytoo.reference_wav.stat().st_size < 1_000_000
    info = sf.info(str(kaytoo.reference_wav))
    assert (info.samplerate, info.channels) == (24000, 1)
    assert kaytoo.latents_dir == lib.root / "kaytoo" / "latents" and kaytoo.latents_dir.is_dir()
    before = sha(kaytoo.reference_wav)
    for change in (lambda: lib.remove("Kaytoo"), lambda: lib.rename("kaytoo", "Other")):
        with pytest.raises(UserError, match="built-in voice"):
            change()
    assert sha(kaytoo.reference_wav) == before and lib.get("kaytoo").bundled
    assert [v.name for v in VoiceLibrary(tmp_path / "default").list()] == ["Kaytoo"]  # app's assets

    # A changed bundled reference (an app update) empties its stale latents.
    bundled = tmp_path / "bundled"
    shutil.copytree(asset_dir() / "voices", bundled)
    root = tmp_path / "data-voices"
    v = VoiceLibrary(root, bundled).get("Kaytoo")
    (v.latents_dir / "xtts-abc.pt").write_bytes(b"latents")
    assert (VoiceLibrary(root, bundled).get("Kaytoo").latents_dir / "xtts-abc.pt").exists()
    data, rate = sf.read(v.reference_wav)
    sf.write(v.reference_wav, data[: len(data) // 2], rate)
    v2 = VoiceLibrary(root, bundled).get("Kaytoo")
    assert v2.latents_dir.is_dir() and list(v2.latents_dir.iterdir()) == []


def test_a_damaged_voice_folder_is_skipped_not_deleted(lib, speech):
    v = lib.add("Narrator", speech)
    (v.folder / "voice.json").write_text("{broken")
    assert names(lib) == ["Kaytoo"] and v.folder.is_dir()


def test_find_matches_spoken_names(lib, speech):
    lib.add("Narrator", speech)
    lib.add("Old Narrator", speech)
    lib.add("Story Teller", speech)
    assert lib.find("switch to the narator voice").name == "Narrator"
    assert lib.find("use the old narrator voice please").name == "Old Narrator"
    assert lib.find("storyteller").name == "Story Teller"
    assert lib.find("kay too").name == "Kaytoo"
    assert lib.find("bananas") is None and lib.find("the voice") is None and lib.find("") is None


# -- zips -----------------------------------------------------------------------------------------
def test_export_import_round_trip(lib, speech, tmp_path):
    v = lib.add("Narrator", speech, language="de")
    out = lib.export("Narrator", tmp_path / "out" / "narrator.zip")
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["reference.wav", "voice.json"]
    other = VoiceLibrary(tmp_path / "other", tmp_path / "no-bundled")
    w = other.import_zip(out)
    assert (w.name, w.language) == ("Narrator", "de") and abs(w.duration_s - v.duration_s) < 0.1
    assert sf.info(str(w.reference_wav)).frames == sf.info(str(v.reference_wav)).frames
    with pytest.raises(UserError, match="already a voice named 'Narrator'; import narrator.zip under"):
        other.import_zip(out)
    assert other.import_zip(out, name="Narrator Two").name == "Narrator Two"
    assert lib.import_zip(lib.export("kaytoo", tmp_path / "k.zip"), name="Kaytoo Copy").name == "Kaytoo Copy"


def _zip(path: Path, entries: dict[str, bytes], link: str | None = None) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are deliberate in one case
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in entries.items() if isinstance(entries, dict) else entries:
                z.writestr(name, data)
            if link:
                info = zipfile.ZipInfo(link)
                info.create_system = 3
                info.external_attr = 0o120777 << 16
                z.writestr(info, "/etc/passwd")
    return path


def test_malicious_or_broken_zips_are_refused_and_nothing_escapes(lib, speech, tmp_path):
    jail = tmp_path / "zips" / "inner"
    jail.mkdir(parents=True)
    meta = json.dumps({"name": "Zed", "language": "en"}).encode()
    wav = speech.read_bytes()
    good = {"voice.json": meta, "reference.wav": wav}
    cases = [
        ("traversal", {**good, "../evil.txt": b"x"}, None, "unsafe path"),
        ("deep-traversal", {**good, "reference.wav/../../../evil.txt": b"x"}, None, "unsafe path"),
        ("absolute", {**good, "/tmp/evil.txt": b"x"}, None, "unsafe path"),
        ("drive", {**good, "C:\\evil.txt": b"x"}, None, "unsafe path"),
        ("symlink", {"voice.json": meta}, "reference.wav", "link"),
        ("extra", {**good, "run.sh": b"rm -rf ~"}, None, "unexpected entry"),
        ("folder", {**good, "latents/": b""}, None, "unexpected entry"),
        ("twice", [("voice.json", meta), ("reference.wav", wav), ("reference.wav", wav)], None, "twice"),
        ("missing", {"voice.json": meta}, None, "missing reference.wav"),
        ("badjson", {**good, "voice.json": b"{nope"}, None, "not valid JSON"),
        ("noname", {**good, "voice.json": b"[1, 2]"}, None, "no voice name"),
        ("deep", {**good, "voice.json": b"[" * 200_000 + b"]" * 200_000}, None, "nested too deeply"),
        ("badname", {**good, "voice.json": b'{"name": "../../x"}'}, None, "only hold letters"),
        ("notaudio", {**good, "reference.wav": b"\x89PNG\r\n\x1a\n" + bytes(999)}, None,
         "not an audio file"),
    ]
    temp_before = set(Path(tempfile.gettempdir()).glob("kaytoo-import-*"))
    for label, entries, link, reason in cases:
        z = _zip(jail / f"{label}.zip", entries, link)
        with pytest.raises(UserError, match=reason):
            lib.import_zip(z)
    bomb = jail / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("voice.json", meta)
        z.writestr("reference.wav", bytes(60_000_000))  # ~60 kB compressed, 60 MB unpacked
    assert bomb.stat().st_size < 1_000_000
    with pytest.raises(UserError, match="limit is 50 MB"):
        lib.import_zip(bomb)
    not_zip = jail / "plain.zip"
    not_zip.write_text("plain text")
    with pytest.raises(UserError, match="not a zip file"):
        lib.import_zip(not_zip)
    with pytest.raises(UserError, match="does not exist"):
        lib.import_zip(jail / "absent.zip")

    assert names(lib) == ["Kaytoo"] and user_folders(lib) == []
    assert sorted(p.name for p in tmp_path.rglob("*evil*")) == []
    assert not Path("/tmp/evil.txt").exists()
    assert set(Path(tempfile.gettempdir()).glob("kaytoo-import-*")) == temp_before  # cleaned up


# -- waveform -------------------------------------------------------------------------------------
def test_waveform_peaks(lib, speech):
    v = lib.add("Narrator", speech)
    w = load_waveform(v.reference_wav, 300)
    assert w.peaks.shape == (300, 2) and w.rms.shape == (300,) and w.peaks.dtype == np.float32
    assert abs(w.seconds - v.duration_s) < 0.01
    assert np.all(w.peaks[:, 0] <= w.peaks[:, 1]) and np.all(w.rms <= np.abs(w.peaks).max(axis=1) + 1e-6)
    assert w.peaks[:, 1].max() > 0.5 and np.abs(w.peaks).max(axis=1).min() < 0.01  # words, pauses
    ramp = np.linspace(-1, 1, 1000, dtype=np.float32)
    p = peaks(ramp, 10)
    assert p.shape == (10, 2) and p[0, 0] == -1 and p[-1, 1] == 1 and np.all(np.diff(p[:, 0]) > 0)
    assert peaks(ramp[:3], 8).shape == (8, 2) and peaks([], 5).shape == (5, 2)
    assert waveform(np.zeros(0), 24000, 4).seconds == 0


def test_hostile_text_in_a_voice_zip_is_quoted_short_and_escaped(lib, speech, tmp_path):
    wav = speech.read_bytes()
    for meta, plain in [({"name": "Ev\0il\u202egnp.exe"}, "\\x00"),
                        ({"name": "Zed", "language": "x" * 20_000_000}, "20000000 characters")]:
        z = _zip(tmp_path / "hostile.zip", {"voice.json": json.dumps(meta).encode(),
                                            "reference.wav": wav}, None)
        with pytest.raises(UserError) as e:
            lib.import_zip(z)
        text = str(e.value)
        assert plain in text and len(text) < 300
        assert "\0" not in text and "\u202e" not in text
