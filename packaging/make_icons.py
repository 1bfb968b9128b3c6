"""Draw Knockout's icon with Pillow (no third-party art) and write PNG/ICO/ICNS.

Run at build time (build.spec and packaging/linux/build.sh call it), so the repository
keeps only this script: a rounded tile, a checkerboard "transparent" half and a white
subject. Usage: ``python packaging/make_icons.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image, ImageDraw

TILE = (38, 70, 160, 255)
CHECK_A, CHECK_B = (205, 212, 225, 255), (245, 247, 250, 255)
SUBJECT = (255, 255, 255, 255)
PNG_SIZES = (16, 32, 48, 64, 128, 256, 512)


def draw(size: int = 1024) -> Image.Image:
    """The master drawing at ``size`` pixels; smaller sizes are downsampled from it."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    pad, radius = size // 16, size // 5
    d.rounded_rectangle((pad, pad, size - pad, size - pad), radius=radius, fill=TILE)
    # Right half: a checkerboard, the universal sign for "transparent background".
    check = Image.new("RGBA", (size, size), CHECK_B)
    cd = ImageDraw.Draw(check)
    step = size // 12
    for y in range(0, size, step):
        for x in range(0, size, step):
            if (x // step + y // step) % 2:
                cd.rectangle((x, y, x + step - 1, y + step - 1), fill=CHECK_A)
    mask = Image.new("L", (size, size), 0)
    ImageDraw.Draw(mask).rounded_rectangle((size // 2, pad, size - pad, size - pad), radius=radius, fill=255)
    ImageDraw.Draw(mask).rectangle((size // 2, pad, size // 2 + radius, size - pad), fill=255)
    img.paste(check, (0, 0), mask)
    # The subject: a head and shoulders straddling the cut.
    cx = size // 2
    d.ellipse((cx - size // 8, size * 5 // 16, cx + size // 8, size * 9 // 16), fill=SUBJECT)
    d.pieslice((cx - size * 9 // 32, size * 19 // 32, cx + size * 9 // 32, size * 35 // 32), 180, 360,
               fill=SUBJECT)
    ImageDraw.Draw(img).rectangle((0, size - pad, size, size), fill=(0, 0, 0, 0))
    return img


def write_all(out_dir: Path) -> dict[str, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    master = draw()
    written: dict[str, Path] = {}
    for px in PNG_SIZES:
        path = out_dir / f"knockout-{px}.png"
        master.resize((px, px), Image.Resampling.LANCZOS).save(path, optimize=True)
        written[f"png{px}"] = path
    written["png"] = out_dir / "knockout.png"
    master.resize((256, 256), Image.Resampling.LANCZOS).save(written["png"], optimize=True)
    written["ico"] = out_dir / "knockout.ico"
    master.save(written["ico"], sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])
    written["icns"] = out_dir / "knockout.icns"
    master.resize((512, 512), Image.Resampling.LANCZOS).save(written["icns"])
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("build/icons")
    for kind, path in write_all(target).items():
        print(f"{kind:7} {path}")
