"""Options ``cut`` and ``watch`` share, and what they add up to: export settings and an engine."""

from __future__ import annotations

import argparse
from typing import Any

from app.cli import controls
from app.cli.controls import Controls, ExportChoice
from app.core.decode import DEFAULT_MAX_PIXELS
from app.core.errors import KnockoutError
from app.core.export import FORMATS, ExportSettings, parse_colour
from app.inference.providers import DEVICES


class UsageError(KnockoutError):
    """A request the command cannot run as given: argparse prints it with the usage (exit 2)."""

    code = "usage_error"


def parse_size(text: str) -> tuple[int, int]:
    try:
        w, _, h = text.lower().partition("x")
        size = (int(w), int(h or w))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT like 2000x2000, not {text!r}") from None
    if min(size) < 1 or max(size) > 30000:
        raise argparse.ArgumentTypeError(f"size out of range: {text!r}")
    return size


def parse_margin(text: str) -> float:
    """'5%' -> 0.05 of the subject; '40px' or '40' -> 40 pixels; '0.05' -> 0.05 of the subject."""
    value = text.strip().lower()
    try:
        if value.endswith("%"):
            return float(value[:-1]) / 100
        if value.endswith("px"):
            return max(1.0, float(value[:-2]))
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"margin like 5% or 40px, not {text!r}") from None


def parse_fill(text: str) -> float:
    value = float(text.rstrip("%")) / (100 if text.endswith("%") else 1)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError("fill is a share of the canvas: 0.85 or 85%")
    return value


def add_engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", help="model id (see `knockout models list`); default: the bundled default")
    p.add_argument("--device", choices=DEVICES, default="auto",
                   help="auto picks DirectML/CoreML/CUDA when present, else CPU; cpu forces the CPU")
    p.add_argument("--threads", type=int, default=None, help="CPU inference threads (default: all cores)")


def add_export_options(p: argparse.ArgumentParser) -> None:
    """What the written files look like; shared by ``cut`` and ``watch``."""
    p.add_argument("--format", choices=tuple(FORMATS), default="png", help="output format (default png)")
    p.add_argument("--bg", metavar="COLOUR", help="flatten onto a colour: white, #f0f0f0, 255,255,255")
    p.add_argument("--mask-only", action="store_true", help="write the 8-bit greyscale mask only")
    p.add_argument("--crop", action="store_true", help="crop to the subject")
    p.add_argument("--margin", type=parse_margin, default=0.0,
                   help="margin around the subject with --crop: 5%% or 40px")
    p.add_argument("--canvas", type=parse_size, metavar="WxH", help="place the subject on a canvas, e.g. 2000x2000")
    p.add_argument("--fill", type=parse_fill, default=0.85,
                   help="share of the canvas the subject fills (default 0.85)")
    p.add_argument("--resize", type=parse_size, metavar="WxH", help="shrink to fit inside WxH (keeps aspect ratio)")
    p.add_argument("--quality", type=int, default=92, help="JPEG / lossy WebP quality 1-100 (default 92)")
    p.add_argument("--lossy", action="store_true", help="lossy WebP (default is lossless)")
    p.add_argument("--keep-exif", action="store_true", help="copy the source's EXIF (default: stripped)")
    controls.add_exif_option(p)
    p.add_argument("--decontaminate", action=argparse.BooleanOptionalAction, default=True,
                   help="estimate the subject's own colour in soft edges, so a flatten shows no rim of the old "
                        "background (default: on)")
    p.add_argument("--refine-edges", action=argparse.BooleanOptionalAction, default=True,
                   help="full-resolution mask edges guided by the photo instead of a plain resize (default: on)")
    p.add_argument("--views", type=int, choices=(1, 2), default=1,
                   help="1: the model looks at the photo once; 2: also at a second view, fused by confidence "
                        "(better edges and fewer dropped parts, about twice the model's time; default 1)")
    p.add_argument("--punch-holes", action="store_true",
                   help="make enclosed gaps that show the background transparent (inside a handle, between spokes)")
    p.add_argument("--recover-parts", action="store_true",
                   help="on a plain backdrop (a studio sweep, a coloured screen), bring back parts the model cut "
                        "away, e.g. hair or leaves (off by default: on a table a warm shadow would come back too)")
    p.add_argument("--auto-recover-parts", action=argparse.BooleanOptionalAction, default=True,
                   help="bring those parts back where the left-out check finds them: something beside the "
                        "subject that is not the backdrop's colour (a shadow is) was cut away (default: on)")
    p.add_argument("--keep-specks", action="store_true",
                   help="keep tiny stray islands and pinholes in the mask (default: cleaned up)")
    p.add_argument("--name", default="{stem}", metavar="TEMPLATE",
                   help="output file name without extension: {stem} {name} {ext} {parent}, and {preset} with --preset "
                        "(default {stem}; with --preset the preset's template)")
    p.add_argument("--max-megapixels", type=float, default=DEFAULT_MAX_PIXELS / 1e6,
                   help=f"refuse larger images before decoding (default {DEFAULT_MAX_PIXELS / 1e6:.0f})")


def export_choice(args: argparse.Namespace, context: Controls) -> ExportChoice:
    """The flags as export settings, with ``--preset`` and the policy applied (app.cli.controls)."""
    try:
        background = parse_colour(args.bg) if args.bg else None
        return controls.export_choice(args, context, ExportSettings(
            format=args.format, background=background, mask_only=args.mask_only, crop=args.crop,
            margin=args.margin, canvas=args.canvas, fill=args.fill, max_size=args.resize,
            quality=args.quality, lossless=not args.lossy, keep_exif=args.keep_exif,
            refine_edges=args.refine_edges, decontaminate=args.decontaminate,
            remove_specks=not args.keep_specks, punch_holes=args.punch_holes, recover_parts=args.recover_parts,
            auto_recover_parts=args.auto_recover_parts, views=args.views,
            keep_exif_fields=tuple(args.keep_exif_field or ()),
        ))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def engine_for(args: argparse.Namespace) -> Any:
    """The inference engine ``--model``, ``--device`` and ``--threads`` ask for (loaded on first use);
    with no ``--model`` (and no policy choosing one), the default's variant measured fastest on this
    CPU by ``knockout self-test`` (app.inference.variants), as in the window."""
    from app.inference import variants
    from app.inference.engine import Engine
    from app.inference.manifest import discover

    catalogue = discover()
    model = variants.choose(catalogue, args.model, args.device).model
    return Engine(model=model, device=args.device, threads=args.threads, catalogue=catalogue)
