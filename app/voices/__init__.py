"""The voice library on disk (library.py), a voice as the engine sees it (ref.py), voice zips
(archive.py), reference clip checks (validate.py), waveform peaks (waveform.py)."""
