"""Video optimisation with the real ffmpeg on tiny generated clips (2 s, 320x240, tone)."""
from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from app.errors import UserError
from app.video import CODECS, Cancelled, Tools, optimize, probe
from app.video import hls as hls_mod
from app.video.optimize import measure_psnr, output_names

FFPROBE_CODEC = {"h264": "h264", "h265": "hevc", "vp9": "vp9", "av1": "av1"}


def make_clip(path: Path, seconds: float = 2, size: str = "320x240", audio: bool = True,
              video: tuple[str, ...] = ("-c:v", "libx264", "-preset", "ultrafast", "-crf", "16",
                                        "-pix_fmt", "yuv420p")) -> Path:
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi",
           "-i", f"testsrc=size={size}:rate=25:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac"]
    cmd += [*video, str(path)]
    subprocess.run(cmd, check=True)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("clips")
    c = {"av": make_clip(d / "clip.mp4"),
         "mute": make_clip(d / "mute.mkv", audio=False),
         "odd": make_clip(d / "odd size.mkv", size="321x241", audio=False,
                         video=("-c:v", "ffv1", "-pix_fmt", "yuv444p")),  # 4:2:0 cannot be odd
         "long": make_clip(d / "long.mp4", seconds=30)}
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=duration=1",
                    str(d / "tone.wav")], check=True)
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=64x48",
                    "-frames:v", "1", str(d / "still.png")], check=True)
    (d / "notes.txt").write_text("not a video\n")
    (d / "empty.mp4").write_bytes(b"")
    c.update(tone=d / "tone.wav", still=d / "still.png", text=d / "notes.txt", empty=d / "empty.mp4")
    return c


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ffprobe(path: Path) -> dict:
    out = subprocess.run(["ffprobe", "-v", "error", "-of", "json", "-show_format", "-show_streams",
                          str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def decodes_cleanly(path: Path) -> bool:
    out = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
                         capture_output=True, text=True)
    return out.returncode == 0 and not out.stderr.strip()


@pytest.mark.parametrize("codec", CODECS)
def test_each_codec_gives_a_playable_file_of_good_quality(clips, tmp_path, codec):
    src = clips["av"]
    before = sha(src)
    r = optimize(src, tmp_path / "out", codec)
    assert r.main == output_names(src, (tmp_path / "out").resolve(), codec)[0]
    assert r.outputs == [r.main] and r.main.is_file()
    info = ffprobe(r.main)
    video = [s for s in info["streams"] if s["codec_type"] == "video"]
    audio = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert [s["codec_name"] for s in video] == [FFPROBE_CODEC[codec]]
    assert (video[0]["width"], video[0]["height"], video[0]["pix_fmt"]) == (320, 240, "yuv420p")
    assert [s["codec_name"] for s in audio] == ["opus" if codec == "vp9" else "aac"]
    assert float(info["format"]["duration"]) == pytest.approx(2.0, abs=0.1)
    assert decodes_cleanly(r.main)
    if codec == "h265":
        assert video[0]["codec_tag_string"] == "hvc1"  # what Apple players need
    if r.main.suffix == ".mp4":  # faststart: the index comes before the media data
        head = r.main.read_bytes()
        assert head.index(b"moov") < head.index(b"mdat")
    assert 30 < r.psnr_db < 100
    assert r.input_bytes == src.stat().st_size and r.output_bytes == r.main.stat().st_size
    d = r.to_dict()
    assert set(d) >= {"outputs", "input_bytes", "output_bytes", "psnr_db", "seconds"}
    json.dumps(d)
    assert sha(src) == before  # the input is never modified
    assert not list((tmp_path / "out").glob(".*"))  # no temporary files left


def test_hls_master_lists_the_renditions_and_every_segment_exists(clips, tmp_path):
    r = optimize(clips["av"], tmp_path, "h264", hls=True)
    assert r.hls_master == tmp_path.resolve() / "clip-hls-h264" / "master.m3u8"
    assert r.outputs == [r.main, r.hls_master]
    variants = hls_mod.read_master(r.hls_master)
    assert [v["resolution"] for v in variants] == ["160x120", "320x240"]
    assert all(v["bandwidth"] > 0 for v in variants)
    assert [v["name"] for v in r.renditions] == ["120p", "240p"]
    for v in variants:
        playlist = r.hls_master.parent / v["uri"]
        files = hls_mod.read_media(playlist)
        assert files[0].startswith("init") and files[1].endswith(".m4s")
        for name in files:
            assert (playlist.parent / name).stat().st_size > 0
    assert decodes_cleanly(r.hls_master)
    assert r.hls_bytes == sum(p.stat().st_size for p in r.hls_master.parent.rglob("*") if p.is_file())


def test_av1_with_hls_previews_through_h264_renditions(clips, tmp_path):
    r = optimize(clips["mute"], tmp_path, "av1", hls=True)
    assert ffprobe(r.main)["streams"][0]["codec_name"] == "av1"
    assert r.hls_codec == "h264" and r.preview == r.hls_master
    rendition = r.hls_master.parent / "240p" / "index.m3u8"
    assert [s["codec_name"] for s in ffprobe(rendition)["streams"]] == ["h264"]  # no audio: none made


def test_h265_hls_uses_hevc_renditions(clips, tmp_path):
    r = optimize(clips["mute"], tmp_path, "h265", hls=True)
    assert r.hls_master.parent.name == "mute-hls-h265"
    streams = ffprobe(r.hls_master.parent / "240p" / "index.m3u8")["streams"]
    assert [s["codec_name"] for s in streams] == ["hevc"]


@pytest.mark.parametrize("height, expected", [(2160, [360, 720, 1080]), (1080, [360, 720, 1080]),
                                              (720, [360, 720]), (481, [360, 480]), (240, [120, 240])])
def test_hls_ladder_never_upscales(height, expected):
    assert [r.height for r in hls_mod.ladder(height)] == expected


def test_progress_rises_to_exactly_one(clips, tmp_path):
    seen: list[float] = []
    optimize(clips["av"], tmp_path, "h264", hls=True, progress=seen.append)
    assert len(seen) > 3
    assert all(b > a for a, b in zip(seen, seen[1:]))
    assert seen[0] >= 0.0 and seen[-1] == 1.0 and max(seen[:-1]) < 1.0


def test_cancel_stops_ffmpeg_and_leaves_no_partial_files(clips, tmp_path):
    out = tmp_path / "out"
    earlier = optimize(clips["av"], out, "h264")   # an earlier result must survive a cancelled run
    earlier_hash = sha(earlier.main)
    long_src = out / "clip.mp4"
    shutil.copy(clips["long"], long_src)           # same stem: the re-run targets the same names
    cancel = threading.Event()
    seen: list[float] = []

    def progress(f: float) -> None:
        seen.append(f)
        if f > 0.02:
            cancel.set()

    with pytest.raises(Cancelled):
        optimize(long_src, out, "h264", hls=True, progress=progress, cancel=cancel)
    assert seen and max(seen) < 1.0
    assert sorted(p.name for p in out.iterdir()) == ["clip-h264.mp4", "clip.mp4"]
    assert sha(earlier.main) == earlier_hash


def test_cancel_before_start_writes_nothing(clips, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        optimize(clips["av"], tmp_path / "out", "vp9", cancel=cancel)
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("key, words", [
    ("tone", "no video stream (it is an audio file)"), ("still", "still image"),
    ("text", "not a video file"), ("empty", "empty (0 bytes)"), ("missing", "does not exist"),
    ("folder", "is a folder")])
def test_bad_inputs_give_one_plain_sentence(clips, tmp_path, key, words):
    src = {"missing": tmp_path / "gone.mp4", "folder": tmp_path}.get(key) or clips[key]
    with pytest.raises(UserError) as e:
        optimize(src, tmp_path / "out", "h264")
    msg = str(e.value)
    assert words in msg and src.name in msg
    assert "\n" not in msg and msg.endswith(".") and "Traceback" not in msg
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_unknown_codec_and_file_as_output_folder(clips, tmp_path):
    with pytest.raises(UserError, match="Unknown codec 'mpeg2'; choose one of h264, h265, vp9, av1."):
        optimize(clips["av"], tmp_path, "mpeg2")
    blocker = tmp_path / "taken"
    blocker.write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        optimize(clips["av"], blocker, "h264")
    assert blocker.read_text() == "x"


def test_outputs_never_replace_the_input(clips, tmp_path):
    src = tmp_path / "clip-h264.mp4"
    shutil.copy(clips["av"], src)
    before = sha(src)
    # clip-h264.mp4 optimised into its own folder would be named clip-h264-h264.mp4: fine
    r = optimize(src, tmp_path, "h264")
    assert r.main.name == "clip-h264-h264.mp4" and sha(src) == before
    # an input inside the HLS folder a run would replace
    hls_dir = tmp_path / "clip-hls-h264"
    hls_dir.mkdir()
    inner = hls_dir / "clip.mp4"
    shutil.copy(clips["av"], inner)
    with pytest.raises(UserError, match="inside clip-hls-h264"):
        optimize(inner, tmp_path, "h264", hls=True)
    assert sha(inner) == before


def test_odd_sizes_and_spaces_in_names(clips, tmp_path):
    r = optimize(clips["odd"], tmp_path / "a % folder", "h264", hls=True)
    v = ffprobe(r.main)["streams"][0]
    assert (v["width"], v["height"]) == (320, 240)  # 4:2:0 needs even sizes
    assert r.psnr_db > 30 and r.hls_master.is_file()
    assert [x["resolution"] for x in r.renditions] == ["160x120", "320x240"]


def test_psnr_tells_good_from_bad(clips, tmp_path):
    src = clips["av"]
    assert measure_psnr(src, src, (320, 240)) == 100.0
    bad = tmp_path / "bad.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(src), "-c:v", "libx264", "-crf", "51",
                    "-an", str(bad)], check=True)
    good = optimize(src, tmp_path, "h264").psnr_db
    worse = measure_psnr(bad, src, (320, 240))
    assert worse < good - 8 and worse < 32


def test_psnr_of_a_long_video_uses_its_middle(clips, tmp_path):
    r = optimize(clips["long"], tmp_path, "h264")
    whole = measure_psnr(r.main, clips["long"], (320, 240), 0.0, 30.0)
    # the same frames: a misaligned middle window would fall far below the whole-clip figure
    assert r.psnr_db == pytest.approx(whole, abs=1.0)


def test_probing_with_ffmpeg_alone_matches_ffprobe(clips):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")  # the installers' ffmpeg has no ffprobe
    alone = Tools(imageio_ffmpeg.get_ffmpeg_exe())
    for key in ("av", "mute"):
        a, b = probe(clips[key], alone), probe(clips[key], Tools.find())
        assert (a.width, a.height, a.has_audio) == (b.width, b.height, b.has_audio)
        assert a.duration_s == pytest.approx(b.duration_s, abs=0.1)
        assert a.fps == pytest.approx(b.fps, rel=0.1)
    for key, words in (("tone", "audio file"), ("still", "still image"), ("text", "not a video")):
        with pytest.raises(UserError, match=words):
            probe(clips[key], alone)


def test_optimise_with_the_bundled_static_ffmpeg(clips, tmp_path):
    imageio_ffmpeg = pytest.importorskip("imageio_ffmpeg")
    r = optimize(clips["av"], tmp_path, "vp9", hls=True, tools=Tools(imageio_ffmpeg.get_ffmpeg_exe()))
    assert ffprobe(r.main)["streams"][0]["codec_name"] == "vp9"
    assert r.psnr_db > 30 and len(r.renditions) == 2


# -- the CLI ---------------------------------------------------------------------------------------
def _cli(argv: list[str]):
    from app.cli import _Parser
    from app.video.cli import add_video_parser

    p = _Parser(prog="kaytoo")
    add_video_parser(p.add_subparsers(dest="command", parser_class=_Parser))
    return p.parse_args(argv)


def test_cli_json_contract(clips, tmp_path, capsys):
    from app.video.cli import run_video

    args = _cli(["video", "optimize", str(clips["av"]), "--out", str(tmp_path), "--codec", "h265",
                 "--hls", "--json"])
    assert run_video(args, None, None) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"outputs", "input_bytes", "output_bytes", "psnr_db", "seconds"}
    assert [Path(p).name for p in data["outputs"]] == ["clip-h265.mp4", "master.m3u8"]
    assert data["psnr_db"] > 30 and data["hls"]["codec"] == "h265"


def test_cli_human_line_and_usage_errors(clips, tmp_path, capsys):
    from app.video.cli import run_video

    assert run_video(_cli(["video", "optimise", str(clips["mute"]), "--out", str(tmp_path)]), None, None) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert "mute-h264.mp4" in lines[0] and "PSNR" in lines[0] and "kB" in lines[0]
    assert len(lines) == 1 or "larger than the input" in lines[1]
    with pytest.raises(UserError, match="invalid choice: 'mpeg2'"):
        _cli(["video", "optimize", str(clips["av"]), "--out", str(tmp_path), "--codec", "mpeg2"])
    with pytest.raises(UserError, match="--out"):
        _cli(["video", "optimize", str(clips["av"])])


def test_cli_as_a_process_when_wired(clips, tmp_path):
    import sys

    from app.cli import build_parser

    if "video" not in build_parser()._subparsers._group_actions[0].choices:
        pytest.skip("app/cli.py does not route 'video' to app.video.cli yet")
    ok = subprocess.run([sys.executable, "-m", "app", "video", "optimize", str(clips["av"]), "--out",
                         str(tmp_path), "--json"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["psnr_db"] > 30
    bad = subprocess.run([sys.executable, "-m", "app", "video", "optimize", str(clips["tone"]), "--out",
                          str(tmp_path)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().splitlines() == [f"kaytoo: {clips['tone'].name} has no video stream "
                                               "(it is an audio file)."]
