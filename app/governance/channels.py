"""Built-in sales-channel presets and delivery sets, as data.

Each channel preset carries the image rules the channel publishes that a file can show
(background colour, pixel size, shape, fill, format, sRGB, file size), the public page each
value was read from and when, and the rules no pixel check can prove (no props, no text, no
watermark...) as ``unchecked_rules``, so they are said rather than pretended. Channels change
their rules: ``Channel.note`` says so, and values read from a third-party page or from no page
at all are marked ``confirmed=False`` with what to confirm where.

A delivery set names several outputs written from one mask in one go (``marketplace-kit``).
"""

from __future__ import annotations

from app.core.compliance import Rules
from app.core.export import WHITE, ExportSettings
from app.governance.preset_model import CHANNELS_CHANGE, Channel, Output, Preset, Source

MB = 1_000_000
NO_PROPS = "only the product for sale: no props or accessories that are not included"
NO_TEXT = "no text, logos, borders, watermarks or inset pictures on the image"
IN_FOCUS = "sharp, well lit, not pixelated, the whole product in the frame"


def _flat(canvas: tuple[int, int], fill: float = 0.85) -> ExportSettings:
    """JPEG on pure white, the subject centred on ``canvas``; gaps inside the product that show the
    background are made white too (safe on white: a wrongly punched region is background-coloured)."""
    return ExportSettings(format="jpg", background=WHITE, canvas=canvas, fill=fill, quality=92, punch_holes=True)


AMAZON = Channel(
    "Amazon (main image)",
    (Source("https://sellercentral.amazon.com/help/hub/reference/external/G1881",
            "pure white background RGB 255,255,255; product fills at least 85 % of the frame; at least 1000 px "
            "on the longest side (1600 or more recommended for zoom); at most 10 000 px; JPEG, PNG, TIFF or GIF; "
            "sRGB"),),
    unchecked_rules=(NO_PROPS, NO_TEXT, "one view of the product, not several", IN_FOCUS,
                     "no mannequins (apparel), unless the category allows them"),
    note=CHANNELS_CHANGE + " The main image only: Amazon's other images may show context.")

EBAY = Channel(
    "eBay",
    (Source("https://www.ebay.com/help/policies/listing-policies/picture-policy?id=4370",
            "at least 500 px on the longest side, 1600 px recommended"),
     Source("https://developer.ebay.com/devzone/merchant-products/catalog-best-practices_de/content/images.html",
            "at most 9000 px a side; at most 12 MB; JPEG, PNG, TIFF, BMP or GIF")),
    unchecked_rules=("no borders, text or artwork added to the picture",
                     "a watermark only to show ownership, never for marketing",
                     "shows the actual item (the stock photo rules for used items)", IN_FOCUS))

ETSY = Channel(
    "Etsy",
    (Source("https://help.etsy.com/hc/en-us/articles/360000344908",
            "at least 635 px (checked on the shorter side); 2000 px on the shortest side recommended; "
            "thumbnails shown 4:3 or 1:1; JPEG, PNG or GIF"),),
    unchecked_rules=("the thumbnail crop shows the product (centred)", IN_FOCUS),
    note=CHANNELS_CHANGE + " The 4:3 / 1:1 shape is Etsy's recommendation for thumbnails, not a refusal.")

GOOGLE = Channel(
    "Google Shopping (Merchant Center)",
    (Source("https://support.google.com/merchants/answer/6324350",
            "at least 100×100 px (250×250 px for apparel, which this preset checks); at most 64 megapixels and "
            "16 MB; JPEG, PNG, GIF, BMP, TIFF or WebP; product 75-90 % of the image (recommended)"),),
    unchecked_rules=("no watermark", "no promotional text, logos or borders", "no placeholder or generic image",
                     "the product only once, no bundles shown as one"),
    note=CHANNELS_CHANGE + " Non-apparel products accept 100×100 px; the fill range is Google's recommendation.")

ZALANDO = Channel(
    "Zalando (partner program)",
    (Source("https://wisepim.com/guides/marketplace-listing/zalando",
            "a third-party guide: at least 2048×2730 px (3:4); a neutral grey or white background"),),
    unchecked_rules=("background neutral light grey or white (either is accepted, so not checked)",
                     "apparel: model shots as Zalando's content guidelines ask", NO_TEXT, IN_FOCUS),
    note=CHANNELS_CHANGE + " Read from a third-party guide, not Zalando's own page: confirm the size, the shape "
                           "and the formats in Zalando's partner image guidelines (zDirect) before use.",
    confirmed=False)

OTTO = Channel(
    "OTTO Market",
    (Source("https://www.hello-pine.com/blog/bildrichtlinien-otto-haendler-technische-inhaltliche-vorgaben-5df1f",
            "a third-party guide: JPEG or PNG only; no transparent background"),),
    unchecked_rules=("minimum and maximum pixel size: not found on a page we could read",
                     NO_TEXT, NO_PROPS, IN_FOCUS),
    note=CHANNELS_CHANGE + " Read from a third-party guide, not OTTO's own page: confirm the formats and the "
                           "pixel size in OTTO Partner Connect's image guidelines before use.",
    confirmed=False)

ALLEGRO = Channel(
    "Allegro",
    (),
    unchecked_rules=("pixel size, file size and background: no Allegro page with them was found", NO_TEXT,
                     NO_PROPS, IN_FOCUS),
    note=CHANNELS_CHANGE + " No Allegro page with image requirements was found when this preset was written: "
                           "only an opaque sRGB JPEG or PNG is checked, which are Knockout's cautious defaults, "
                           "not Allegro's published values. Confirm in Allegro's seller help before use.",
    confirmed=False)


def _channel(preset_id: str, label: str, summary: str, settings: ExportSettings, rules: Rules,
             channel: Channel) -> Preset:
    checked = "" if channel.confirmed else " Values to confirm: see the preset's channel note."
    return Preset(preset_id, label, f"{summary} Rules read {channel.read_on}; channels change them.{checked}",
                  settings, "{stem}-{preset}", rules, channel=channel)


def channel_presets() -> list[Preset]:
    """One preset per channel: its export settings aim inside its own rules."""
    return [
        _channel("amazon-main", "Amazon main image",
                 "JPEG on pure white, 2000×2000, product filling 90 %.", _flat((2000, 2000), 0.9),
                 Rules(background=WHITE, fill_range=(0.85, 1.0), min_long_side=1000, max_side=10000,
                       formats=("jpg", "png", "tif", "gif")), AMAZON),
        _channel("ebay", "eBay", "JPEG on white, 1600×1600 (eBay's recommended size).", _flat((1600, 1600)),
                 Rules(min_long_side=500, max_side=9000, max_bytes=12 * MB,
                       formats=("jpg", "png", "tif", "bmp", "gif")), EBAY),
        _channel("etsy", "Etsy", "JPEG on white, 2700×2025 (4:3, 2000 px or more on the shortest side).",
                 _flat((2700, 2025)),
                 Rules(min_size=635, aspects=((4, 3), (1, 1)), formats=("jpg", "png", "gif")), ETSY),
        _channel("google-shopping", "Google Shopping", "JPEG on white, 1500×1500, product filling 85 %.",
                 _flat((1500, 1500)),
                 Rules(fill_range=(0.75, 0.90), min_size=250, max_pixels=64_000_000, max_bytes=16 * MB,
                       formats=("jpg", "png", "gif", "bmp", "tif", "webp")), GOOGLE),
        _channel("zalando", "Zalando", "JPEG on white, 2048×2730 (3:4).", _flat((2048, 2730)),
                 Rules(min_size=2048, aspects=((3, 4),)), ZALANDO),
        _channel("otto", "OTTO Market", "JPEG on white, 2000×2000.", _flat((2000, 2000)),
                 Rules(formats=("jpg", "png"), opaque=True), OTTO),
        _channel("allegro", "Allegro", "JPEG on white, 2000×2000.", _flat((2000, 2000)),
                 Rules(formats=("jpg", "png"), opaque=True), ALLEGRO),
    ]


def delivery_sets(basics: dict[str, Preset]) -> list[Preset]:
    """Sets of outputs written together from one mask; ``basics``: the everyday presets by id."""
    amazon = next(p for p in channel_presets() if p.id == "amazon-main")
    outputs = (
        Output("master", "Transparent PNG (master)", basics["png-master"].settings, "{stem}-master"),
        Output("amazon", "Amazon main image (JPEG on white)", amazon.settings, "{stem}-amazon", amazon.rules,
               amazon.channel),
        Output("web", "Web (WebP)", basics["web-webp"].settings, "{stem}-web"),
        Output("mask", "Mask (PNG)", basics["mask"].settings, "{stem}-mask"),
    )
    return [Preset("marketplace-kit", "Marketplace kit (4 files)",
                   "Four files per photo from one cutout: the transparent PNG master, Amazon's main image on "
                   "white, a web WebP and the mask. Each is checked against its own rules.",
                   outputs[0].settings, outputs[0].template, outputs=outputs)]
