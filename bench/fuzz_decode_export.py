"""Fuzz decode → export: every exception that escapes must be a typed ImageError.

Run from the repository root:

    .venv/bin/python bench/fuzz_decode_export.py                     # 10,000 files, seed 0
    .venv/bin/python bench/fuzz_decode_export.py -n 2000 --seed 7 --jobs 2
    .venv/bin/python bench/fuzz_decode_export.py --replay .bench/fuzz/untyped-00042-png-rgba-flip.bin

Seeds: small valid images of every format the app reads, made with Pillow in memory (HEIC when
pillow-heif can encode one), mutated by byte flips, truncation, chunk duplication or deletion and
header-field changes (PNG chunk CRCs fixed half the time, so the parser goes deeper). Each file goes
through the app's own functions: queued-photo thumbnail, ``open_image``, ``render`` with a synthetic
alpha (no model) and ``save``, in worker processes with a per-file time limit (past it: a hang) and
a memory cap (a dead worker: a crash). It prints ok, typed errors by code, untyped exceptions by
type, hangs and crashes, saves the first few of each failing kind to --examples, and exits 1 if
anything was untyped, hung or crashed. tests/test_fuzz.py runs the same ``mutate`` and ``check``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import multiprocessing
import os
import random
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path

from PIL import Image, ImageCms

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from app.core.compose import Cutout  # noqa: E402
from app.core.decode import open_image, thumbnail  # noqa: E402
from app.core.errors import ImageError  # noqa: E402
from app.core.export import ExportSettings, render, save  # noqa: E402

EXAMPLES = REPO / ".bench" / "fuzz"
FUZZ_MAX_PIXELS = 4_000_000  # a mutated header may claim anything: keep allowed decodes small and fast
EXPORTS = (
    ExportSettings(format="png"),
    ExportSettings(format="jpg", keep_exif=True),
    ExportSettings(format="webp", lossless=False, crop=True, margin=0.05),
    ExportSettings(format="tif", keep_exif=True),
    ExportSettings(format="png", crop=True, canvas=(300, 200), background=(255, 255, 255)),
    ExportSettings(format="webp", mask_only=True, max_size=(200, 200)),
    ExportSettings(format="png", keep_exif_fields=("Copyright", "DateTimeOriginal", "GPSInfo")),
)
INTERESTING = (0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000,
               0xFFFFFFFF)


# --------------------------------------------------------------------------- seeds


def _photo(size: tuple[int, int] = (48, 32)) -> Image.Image:
    """A little photo-like RGB picture: a gradient with a bright block."""
    width, height = size
    img = Image.linear_gradient("L").resize(size).convert("RGB")
    img.paste((220, 80, 40), (width // 4, height // 4, 3 * width // 4, 3 * height // 4))
    return img


def _exif() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Fuzz Camera"  # Make
    exif[0x0112] = 6  # Orientation
    exif[0x8298] = "(c) nobody"  # Copyright
    exif.get_ifd(0x8825)[1] = "N"  # GPS
    return exif.tobytes()


def _encode(img: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def build_seeds() -> list[tuple[str, bytes]]:
    """Small valid files of every supported format, in the variants decode handles differently."""
    rgb = _photo()
    rgba = rgb.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    frames = [_photo((24, 16)), Image.new("RGB", (24, 16), (0, 0, 255)), Image.new("RGB", (24, 16), (0, 255, 0))]
    grey16 = Image.linear_gradient("L").resize((32, 24)).convert("I").point(lambda v: v * 257).convert("I;16")
    seeds = [
        ("png-rgb", _encode(rgb, "PNG", icc_profile=icc, exif=_exif())),
        ("png-rgba", _encode(rgba, "PNG")),
        ("png-palette", _encode(rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16), "PNG", transparency=0)),
        ("png-grey16", _encode(grey16, "PNG")),
        ("png-grey-alpha", _encode(rgba.convert("LA"), "PNG")),
        ("jpeg", _encode(rgb, "JPEG", quality=90, exif=_exif(), icc_profile=icc)),
        ("jpeg-progressive", _encode(rgb, "JPEG", quality=80, progressive=True)),
        ("jpeg-cmyk", _encode(rgb.convert("CMYK"), "JPEG", quality=90)),
        ("webp-lossless", _encode(rgba, "WEBP", lossless=True, exif=_exif())),
        ("webp-lossy", _encode(rgb, "WEBP", quality=70, icc_profile=icc)),
        ("webp-animated", _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])),
        ("tiff-deflate", _encode(rgb, "TIFF", compression="tiff_adobe_deflate", icc_profile=icc)),
        ("tiff-exif", _encode(rgb, "TIFF", exif=_exif())),  # libtiff cannot write EXIF sub-IFDs: Pillow's writer
        ("tiff-raw-rgba", _encode(rgba, "TIFF")),
        ("tiff-pages", _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])),
        ("tiff-grey16", _encode(grey16, "TIFF")),
        ("tiff-lzw-cmyk", _encode(rgb.convert("CMYK"), "TIFF", compression="tiff_lzw")),
        ("gif-animated", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)),
        ("gif", _encode(rgb.convert("P"), "GIF", transparency=3)),
        ("bmp", _encode(rgb, "BMP")),
        ("bmp-palette", _encode(rgb.convert("P"), "BMP")),
        ("tga-rle", _encode(rgba, "TGA", compression="tga_rle")),
        ("ppm", _encode(rgb, "PPM")),
    ]
    heic = _heic(rgb)
    if heic:
        seeds.append(("heic", heic))
    return seeds


def _heic(img: Image.Image) -> bytes | None:
    """A HEIC seed when pillow-heif (the dev extra; the app's pi-heif only decodes) is installed."""
    try:
        import pillow_heif
    except ImportError:
        return None
    buf = io.BytesIO()
    pillow_heif.from_pillow(img).save(buf, quality=80)
    return buf.getvalue()


# --------------------------------------------------------------------------- mutations


def _flip_bits(buf: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 8)):
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)


def _random_bytes(buf: bytearray, rng: random.Random) -> None:
    for _ in range(rng.randint(1, 4)):
        buf[rng.randrange(len(buf))] = rng.randrange(256)


def _truncate(buf: bytearray, rng: random.Random) -> None:
    if len(buf) > 1:
        del buf[rng.randrange(1, len(buf)):]


def _duplicate_chunk(buf: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(buf))
    chunk = buf[start:start + rng.randint(1, 512)]
    at = rng.randrange(len(buf) + 1)
    buf[at:at] = chunk * rng.choice((1, 1, 2, 8))


def _delete_chunk(buf: bytearray, rng: random.Random) -> None:
    start = rng.randrange(len(buf))
    del buf[start:start + rng.randint(1, 64)]
    if not buf:
        buf.append(0)


def _header_field(buf: bytearray, rng: random.Random) -> None:
    """An 'interesting' number (0, max, sign bit...) written over a header field."""
    size = rng.choice((1, 2, 4))
    at = rng.randrange(max(1, min(len(buf), 160) - size + 1))
    value = rng.choice(INTERESTING) & ((1 << (8 * size)) - 1)
    fmt = rng.choice("<>") + {1: "B", 2: "H", 4: "I"}[size]
    buf[at:at + size] = struct.pack(fmt, value)[: len(buf) - at]


MUTATIONS: dict[str, Callable[[bytearray, random.Random], None]] = {
    "flip": _flip_bits, "bytes": _random_bytes, "truncate": _truncate, "dup": _duplicate_chunk,
    "delete": _delete_chunk, "field": _header_field,
}


def _fix_png_crcs(data: bytes) -> bytes:
    """Recompute every chunk's CRC so the PNG parser reads on into the mutated chunk."""
    buf = bytearray(data)
    at = 8
    while at + 12 <= len(buf):
        length = struct.unpack(">I", buf[at:at + 4])[0]
        end = at + 8 + length
        if end + 4 > len(buf):
            break
        buf[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(buf[at + 4:end])))
        at = end + 4
    return bytes(buf)


@dataclass(frozen=True)
class Mutant:
    index: int
    name: str
    data: bytes


def mutate(seeds: list[tuple[str, bytes]], index: int, seed: int = 0) -> Mutant:
    """File number ``index`` of run ``seed``: the same bytes every time (for replay)."""
    rng = random.Random(f"{seed}:{index}")
    kind, data = seeds[rng.randrange(len(seeds))]
    buf = bytearray(data)
    applied = [rng.choice(sorted(MUTATIONS)) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    for name in applied:
        MUTATIONS[name](buf, rng)
    out = bytes(buf)
    if kind.startswith("png") and rng.random() < 0.5:
        out = _fix_png_crcs(out)
        applied.append("crc")
    return Mutant(index, f"{index:05d}-{kind}-{'+'.join(applied)}", out)


# --------------------------------------------------------------------------- one file


@dataclass(frozen=True)
class Outcome:
    kind: str  # "ok", "typed", "untyped"
    detail: str = ""  # the typed error's code, or "ExceptionType: message"
    stage: str = ""
    trace: str = ""

    @property
    def signature(self) -> str:
        """What groups untyped exceptions: the type and where it was raised."""
        where = self.trace.strip().splitlines()[-3].strip() if self.trace.count("\n") >= 3 else ""
        return f"{self.detail.split(':')[0]} at {self.stage} ({where})"


def check(data: bytes, name: str, out_dir: Path, max_pixels: int = FUZZ_MAX_PIXELS, variant: int = 0) -> Outcome:
    """One file through the app: queued thumbnail, decode, render with a synthetic alpha, save."""
    stage = "thumbnail"
    try:
        with contextlib.suppress(ImageError):  # decoding says the same, typed
            thumbnail(data, 160, max_pixels, name)
        stage = "decode"
        decoded = open_image(data, max_pixels, name)
        stage = "render"
        settings = EXPORTS[variant % len(EXPORTS)]
        alpha = Image.radial_gradient("L").resize(decoded.size)  # soft edges, like a model's matte
        image = render(Cutout(decoded.image, alpha), settings)
        stage = "save"
        save(image, out_dir / f"fuzz{settings.extension}", settings, decoded.exif)
    except ImageError as exc:
        return Outcome("typed", exc.code, stage)
    except Exception as exc:  # what the fuzzer is looking for
        return Outcome("untyped", f"{type(exc).__name__}: {exc}"[:300], stage, traceback.format_exc())
    return Outcome("ok", "", stage)


# --------------------------------------------------------------------------- workers and the run


def _serve(conn: Connection, seeds: list[tuple[str, bytes]], seed: int, max_pixels: int, memory_mb: int) -> None:
    """Worker process: file numbers in, outcomes out, until told to stop (None). Pillow's and
    libtiff's complaints about the damaged files are silenced: the outcome says what happened."""
    warnings.simplefilter("ignore")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import resource

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # a runaway allocation is a MemoryError, not an OOM
    except (ImportError, ValueError, OSError):  # pragma: no cover - not on this platform
        pass
    with tempfile.TemporaryDirectory(prefix="knockout-fuzz-") as out:
        while (index := conn.recv()) is not None:
            mutant = mutate(seeds, index, seed)
            conn.send(check(mutant.data, mutant.name, Path(out), max_pixels, index))


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext, args: tuple[object, ...]) -> None:
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, *args), daemon=True)  # type: ignore[attr-defined]
        self.proc.start()
        child.close()
        self.index: int | None = None
        self.deadline = 0.0

    def give(self, index: int | None, timeout: float) -> None:
        self.index = index
        if index is not None:
            self.conn.send(index)
            self.deadline = time.monotonic() + timeout

    def stop(self, kill: bool) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.proc.join(5)
        self.conn.close()


@dataclass
class Report:
    files: int = 0
    ok: int = 0
    typed: Counter[str] = field(default_factory=Counter)
    untyped: Counter[str] = field(default_factory=Counter)
    hangs: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> bool:
        return bool(self.untyped or self.hangs or self.crashes)

    def record(self, outcome: Outcome) -> int:
        """Count one outcome; for an untyped one, return how many of its kind were seen (else 0)."""
        self.files += 1
        if outcome.kind == "ok":
            self.ok += 1
        elif outcome.kind == "typed":
            self.typed[outcome.detail] += 1
        else:
            self.untyped[outcome.signature] += 1
            return self.untyped[outcome.signature]
        return 0

    def lines(self) -> list[str]:
        out = [f"files: {self.files} in {self.seconds:.0f} s", f"ok: {self.ok}",
               f"typed errors: {sum(self.typed.values())}"]
        out += [f"  {code}: {n}" for code, n in self.typed.most_common()]
        out.append(f"untyped exceptions: {sum(self.untyped.values())}")
        out += [f"  {n} × {sig}" for sig, n in self.untyped.most_common()]
        out.append(f"hangs: {len(self.hangs)}" + (f" ({', '.join(self.hangs[:5])})" if self.hangs else ""))
        out.append(f"crashes: {len(self.crashes)}" + (f" ({', '.join(self.crashes[:5])})" if self.crashes else ""))
        return out


def run(count: int, seed: int = 0, jobs: int = 1, timeout: float = 10.0, max_pixels: int = FUZZ_MAX_PIXELS,
        memory_mb: int = 2048, examples: Path = EXAMPLES, keep: int = 3) -> Report:
    """Fuzz ``count`` files in ``jobs`` worker processes, each file under ``timeout`` seconds."""
    seeds = build_seeds()
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    args = (seeds, seed, max_pixels, memory_mb)
    report, started, upcoming = Report(), time.monotonic(), iter(range(count))
    workers = [_Worker(ctx, args) for _ in range(max(1, min(jobs, count)))]
    for worker in workers:
        worker.give(next(upcoming, None), timeout)

    def save_example(kind: str, index: int, note: str) -> None:
        mutant = mutate(seeds, index, seed)
        examples.mkdir(parents=True, exist_ok=True)
        (examples / f"{kind}-{mutant.name}.bin").write_bytes(mutant.data)
        (examples / f"{kind}-{mutant.name}.txt").write_text(note)

    while busy := [w for w in workers if w.index is not None]:
        ready = wait([w.conn for w in busy], max(0.0, min(w.deadline for w in busy) - time.monotonic()))
        for worker in busy:
            index, lost = worker.index, None
            assert index is not None
            if worker.conn in ready:
                try:
                    outcome: Outcome = worker.conn.recv()
                except (EOFError, OSError):
                    worker.proc.join(5)
                    lost = ("crash", f"worker died, exit code {worker.proc.exitcode}")
                    report.crashes.append(f"#{index} (exit {worker.proc.exitcode})")
                else:
                    if 0 < report.record(outcome) <= keep:
                        save_example("untyped", index, f"{outcome.detail}\nstage: {outcome.stage}\n\n{outcome.trace}")
            elif time.monotonic() >= worker.deadline:
                lost = ("hang", f"still running after {timeout} s")
                report.hangs.append(f"#{index}")
            else:
                continue
            if lost:  # the worker is gone or stuck: keep the file, start a fresh worker
                report.files += 1
                kind, note = lost
                save_example(kind, index, note + "\n")
                worker.stop(kill=True)
                workers[workers.index(worker)] = worker = _Worker(ctx, args)
            worker.give(next(upcoming, None), timeout)
    for worker in workers:
        worker.stop(kill=False)
    report.seconds = time.monotonic() - started
    return report


def replay(path: Path, variant: int | None = None, max_pixels: int = FUZZ_MAX_PIXELS) -> Outcome:
    """One saved file, in this process, to see the traceback and step through it. The export
    settings are the ones the run used: its file number, from the saved name, picks them."""
    if variant is None:
        number = path.name.split("-")[1] if path.name.count("-") >= 2 else ""
        variant = int(number) if number.isdigit() else 0
    with tempfile.TemporaryDirectory(prefix="knockout-fuzz-") as out:
        return check(path.read_bytes(), path.name, Path(out), max_pixels, variant)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-n", "--count", type=int, default=10_000, help="files to generate and check (default 10000)")
    p.add_argument("--seed", type=int, default=0, help="run seed: the same seed gives the same files")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds a file may take before it counts as a hang")
    p.add_argument("--max-megapixels", type=float, default=FUZZ_MAX_PIXELS / 1e6,
                   help="the decoder's pixel limit for the run (default 4: mutated headers claim anything)")
    p.add_argument("--memory-mb", type=int, default=2048, help="address-space cap of each worker")
    p.add_argument("--examples", type=Path, default=EXAMPLES, help=f"where failing files go (default {EXAMPLES})")
    p.add_argument("--replay", type=Path, help="check one saved file in this process and print what happens")
    p.add_argument("--variant", type=int, help="with --replay: which export settings (default: the file's number)")
    args = p.parse_args(argv)
    if args.replay:
        outcome = replay(args.replay, args.variant, int(args.max_megapixels * 1e6))
        print(f"{outcome.kind} at {outcome.stage}: {outcome.detail}\n{outcome.trace}")
        return 1 if outcome.kind == "untyped" else 0
    report = run(args.count, args.seed, args.jobs, args.timeout, int(args.max_megapixels * 1e6), args.memory_mb,
                 args.examples)
    print(f"seed {args.seed}, {args.jobs} worker(s), {args.timeout:g} s a file, "
          f"limit {args.max_megapixels:g} MP")
    print("\n".join(report.lines()))
    if report.failed:
        print(f"examples: {args.examples}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
