"""From a file to a written cutout: decode → model → alpha → export → atomic write.

``cut_image`` does one image in the calling thread. ``run_batch`` does many with the
stages overlapped on four threads (decode+resize, inference, edges+render, encode+write)
and bounded hand-over queues, so decoding, edge work and PNG encoding (which releases
the GIL) hide behind each other and the model while at most a handful of decoded photos
are alive at once.

The mask recipe lives here, once (``MaskOptions``, ``alpha_for``, ``fix_mask``): the batch, the
window's cutouts, its export-time fixes and its Punch holes / Recover parts buttons all use it.
What happens to a cutout after that is app.batch.export_service.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from app.batch.assessment import Assessment, assess, refuse_upscale, refuse_upscale_early
from app.batch.results import Job, Outputs, Result, failed, set_result, write_output, write_outputs
from app.core import backdrop, cleanup, mask, qa
from app.core.compose import Cutout
from app.core.decode import DEFAULT_MAX_PIXELS, Decoded, open_image
from app.core.errors import ImageError, KnockoutError, explain
from app.core.export import ExportSettings, check_fits, planned_size, render
from app.core.refine import refine_alpha
from app.core.source_quality import DEFAULT_CHECKS, SourceChecks
from app.inference import views
from app.inference.engine import Engine
from app.inference.manifest import ModelSpec


@dataclass(frozen=True)
class MaskOptions:
    """How the model's answer becomes a photo's mask (the defaults are ExportSettings')."""

    refine_edges: bool = True  # edges guided by the photo (app.core.refine), else a plain resize
    remove_specks: bool = True  # stray islands and pinholes cleaned away (app.core.cleanup)
    punch_holes: bool = False  # enclosed gaps that show the background made transparent
    recover_parts: bool = False  # parts dropped from a plain backdrop brought back (app.core.backdrop)
    views: int = 1  # the model's answer from the photo alone (1) or fused with a second view (2): inference.views
    auto_recover_parts: bool = True  # recovery where the left-out check finds a dropped part (app.core.qa)

    @classmethod
    def of(cls, settings: ExportSettings) -> MaskOptions:
        return cls(settings.refine_edges, settings.remove_specks, settings.punch_holes, settings.recover_parts,
                   settings.views, settings.auto_recover_parts)

    def without_fixes(self) -> MaskOptions:
        """The mask a delivery set shares: each of its outputs then applies its own fixes."""
        return MaskOptions(self.refine_edges, self.remove_specks, views=self.views,
                           auto_recover_parts=self.auto_recover_parts)

    def fixes_only(self) -> MaskOptions:
        """Only the whole-mask fixes (holes, recovery), for a mask that already exists: its edges
        and clean-up were made with it, and the user may have touched it up since (so nothing is
        recovered that they did not ask for: a part they erased would come back)."""
        return MaskOptions(False, False, self.punch_holes, self.recover_parts, auto_recover_parts=False)


@dataclass(frozen=True)
class Provenance:
    """How a cutout was made, for its audit record: the model (the engine's spec: id and sha256,
    never what a window shows) and the mask options."""

    model: ModelSpec
    mask: MaskOptions


class NoPlainBackdrop(ImageError):
    """Parts were to be recovered, but the photo's background is not one plain colour."""

    code = "no-backdrop"


def alpha_for(decoded: Decoded, prob: np.ndarray, options: MaskOptions) -> Image.Image:
    """The mask recipe: the model's probability map at the photo's full resolution, then the
    whole-mask steps (``fix_mask``), keeping the source's own transparency."""
    alpha = refine_alpha(prob, decoded.image) if options.refine_edges else mask.upscale(prob, decoded.size)
    return mask.combine(fix_mask(decoded.image, alpha, options), decoded.alpha)


def fix_mask(rgb: Image.Image, alpha: Image.Image, options: MaskOptions, strict: bool = False) -> Image.Image:
    """The recipe's whole-mask steps, in order: clean-up (specks, pinholes), holes, recovery.
    Recovery needs a plain backdrop: without one the mask stays as it is, or with ``strict``
    (one fix the user asked for) NoPlainBackdrop says why. Without ``recover_parts`` it still
    runs where the left-out check finds a part cut away (``auto_recover_parts``)."""
    alpha = cleanup.clean(rgb, alpha, specks=options.remove_specks, holes=options.punch_holes)
    if options.recover_parts or (options.auto_recover_parts and qa.left_out_of(rgb, alpha) is not None):
        recovered = backdrop.recover(rgb, alpha)
        if recovered is None and strict:
            raise NoPlainBackdrop("The background is not one plain colour, so parts of the subject cannot be "
                                  "told from it: paint them back with Restore.")
        alpha = alpha if recovered is None else recovered
    return alpha


def matte(engine: Engine, decoded: Decoded, options: MaskOptions | None = None) -> Image.Image:
    """Full-resolution alpha for a decoded photo."""
    options = options or MaskOptions()
    return alpha_for(decoded, views.answer(engine, decoded.image, options.views), options)


def render_fixed(cut: Cutout, settings: ExportSettings) -> Image.Image:
    """The pixels to write for a cutout whose mask already exists (the window's, or a delivery
    set's shared one): the whole-mask fixes ``settings`` ask for, then the export recipe."""
    return render(Cutout(cut.rgb, fix_mask(cut.rgb, cut.alpha, MaskOptions.of(settings).fixes_only())), settings)


def cut_image(engine: Engine, decoded: Decoded, settings: ExportSettings) -> Image.Image:
    """The exported pixels for one decoded photo."""
    return render(Cutout(decoded.image, matte(engine, decoded, MaskOptions.of(settings))), settings)


def _render(job: Job, decoded: Decoded, prob: np.ndarray, settings: ExportSettings,
            outputs: Outputs = (), checks: SourceChecks = DEFAULT_CHECKS,
            ) -> tuple[list[Image.Image | BaseException], Assessment]:
    """The pixels to write for one photo (one image per output of a delivery set, all from one
    mask; an output that cannot be rendered, or whose enlargement ``checks`` refuse, holds why)
    and what the checks found (app.batch.assessment), judged on the full-frame mask (before any
    crop). The decoded photo is released here: only the rendered images go on."""
    options = MaskOptions.of(settings)
    alpha = alpha_for(decoded, prob, options.without_fixes() if outputs else options)
    if not outputs:
        refuse_upscale(alpha, settings, checks, job.label)
    judged = assess(decoded, alpha, checks, [each for _id, each in outputs] or [settings])
    images: list[Image.Image | BaseException] = []
    for _id, each in outputs:
        try:
            refuse_upscale(alpha, each, checks, job.label)
            images.append(render_fixed(Cutout(decoded.image, alpha), each))
        except Exception as exc:
            images.append(exc)
    if not outputs:
        images.append(render(Cutout(decoded.image, alpha), settings))
    del alpha
    for pixels in (decoded.image, decoded.alpha):
        if pixels is not None and all(pixels is not image for image in images):
            pixels.close()
    return images, judged


_DONE = object()
IN_FLIGHT = 3
STOP_GRACE = 30.0  # seconds a stopped batch waits without progress before it gives up on a stuck file


def _feed_failure(exc: BaseException) -> Result:
    """The list of files itself broke (a hot folder's scan, say): reported like a failed file."""
    explained = explain(exc)
    return Result("(input files)", "", "failed", code=explained.code,
                  message=f"listing the files stopped: {explained.message}")


def _unfinished(in_flight: dict[tuple[str, str], Job], status: str, reason: str) -> list[Result]:
    """A result for each file started but never reported, so a batch that ends early names them all."""
    return [Result(job.label, str(job.source), status, code=None if status == "cancelled" else "internal_error",
                   message=reason) for job in list(in_flight.values())]


def _next_result(results: queue.Queue[Any], stopping: Callable[[], bool]) -> Any:
    """The next result; ``None`` once the batch is stopping and nothing came for STOP_GRACE
    seconds (a file stuck on a dead network share must not keep a stopped batch alive)."""
    give_up_at = None
    while True:
        try:
            return results.get(timeout=0.25)
        except queue.Empty:
            if stopping():
                give_up_at = give_up_at or time.monotonic() + STOP_GRACE
                if time.monotonic() >= give_up_at:
                    return None


@dataclass
class _Photo:
    """One file on its way through the batch's stages; each stage drops what the next does not need."""

    job: Job
    started: float
    decoded: Decoded | None = None
    tensor: np.ndarray | None = None
    prob: np.ndarray | None = None
    images: list[Image.Image | BaseException] | None = None  # one per output
    written_outputs: list[dict[str, Any]] = field(default_factory=list)
    exif: bytes | None = None
    size: tuple[int, int] | None = None
    warnings: list[str] = field(default_factory=list)
    judged: Assessment | None = None

    def written(self) -> Result:
        width, height = self.size or (None, None)
        flags, score = (self.judged.flags, self.judged.source_score) if self.judged else ([], None)
        result = Result(self.job.label, str(self.job.source), "written", output=str(self.job.output),
                        version=self.job.version, seconds=time.perf_counter() - self.started, width=width,
                        height=height, warnings=self.warnings, flags=flags, source_score=score)
        return set_result(result, self.written_outputs) if self.job.outputs else result


class _Cancelled(KnockoutError):
    """The batch was cancelled before this photo reached the model (reported as ``cancelled``)."""

    code = "cancelled"


class _Batch:
    """The four overlapped stages of ``run_batch`` and the hand-over queues between them.

    At most IN_FLIGHT photos are between decoding and written, as decoded pixels or as the
    rendered export: say one being written, one being rendered, one in the model. Decoding
    takes a fraction of an inference, so the next photo is still ready in time; this bounds
    memory for 100 MP inputs as much as for 12 MP. Each stage guards its whole loop body (a
    failure is that file's) and always passes _DONE on, so a stage that dies anyway never
    leaves the next one waiting.
    """

    def __init__(self, engine: Engine, settings: ExportSettings, max_pixels: int, cancel: threading.Event,
                 on_start: Callable[[Job], None] | None, outputs: Outputs = (),
                 checks: SourceChecks = DEFAULT_CHECKS) -> None:
        self.engine, self.settings, self.max_pixels, self.outputs = engine, settings, max_pixels, outputs
        self.checks = checks
        self.cancel, self.on_start = cancel, on_start
        self.slots = threading.BoundedSemaphore(IN_FLIGHT)
        self.decoded: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.predicted: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.rendered: queue.Queue[Any] = queue.Queue(maxsize=1)
        self.results: queue.Queue[Any] = queue.Queue()
        self.in_flight: dict[tuple[str, str], Job] = {}  # (label, source) of files started, not yet reported

    def start(self, jobs: Iterable[Job]) -> list[threading.Thread]:
        stages: list[Callable[[], None]] = [
            lambda: self._decode(jobs),
            lambda: self._stage(self.decoded, self._infer, self.predicted),
            lambda: self._stage(self.predicted, self._render, self.rendered),
            lambda: self._stage(self.rendered, self._write, self.results, last=True),
        ]
        threads = [threading.Thread(target=stage, name=f"knockout-{name}", daemon=True)
                   for stage, name in zip(stages, ("decode", "infer", "render", "write"), strict=True)]
        for thread in threads:
            thread.start()
        return threads

    def _decode(self, jobs: Iterable[Job]) -> None:
        try:
            for job in jobs:
                if self.cancel.is_set():
                    break
                self.slots.acquire()
                photo = _Photo(job, time.perf_counter())
                self.in_flight[(job.label, str(job.source))] = job
                try:
                    if self.on_start:
                        self.on_start(job)
                    photo.decoded = open_image(job.source, self.max_pixels, job.label)
                    for each in [s for _id, s in self.outputs] or [self.settings]:
                        if (planned := planned_size(photo.decoded.size, each)) is not None:
                            check_fits(planned, each, job.label)  # a panorama in WebP: say so now
                    if not self.outputs:  # a set's outputs are refused one by one, after the model
                        refuse_upscale_early(photo.decoded.size, self.settings, self.checks, job.label)
                    photo.tensor = views.prepare(self.engine, photo.decoded.image)
                except Exception as exc:
                    self._fail(photo, exc)
                    continue
                self.decoded.put(photo)
        except Exception as exc:
            self.results.put(_feed_failure(exc))
        finally:
            self.decoded.put(_DONE)

    def _stage(self, inbox: queue.Queue[Any], step: Callable[[_Photo], None], outbox: queue.Queue[Any],
               last: bool = False) -> None:
        """Take photos from ``inbox`` until _DONE, ``step`` each and pass it on to ``outbox``; the
        ``last`` stage passes on its result instead and frees the photo's slot, written or not."""
        try:
            while (photo := inbox.get()) is not _DONE:
                try:
                    step(photo)
                except Exception as exc:
                    self._fail(photo, exc, release=not last)
                    continue
                finally:
                    if last:
                        photo.images = None
                        self.slots.release()
                outbox.put(photo.written() if last else photo)
        finally:
            outbox.put(_DONE)

    def _infer(self, photo: _Photo) -> None:
        if self.cancel.is_set():
            raise _Cancelled("cancelled")
        assert photo.tensor is not None and photo.decoded is not None
        prob = views.finish(self.engine, photo.decoded.image, photo.tensor, self.settings.views)
        photo.prob, photo.tensor = prob, None

    def _render(self, photo: _Photo) -> None:
        decoded, photo.decoded = photo.decoded, None
        assert decoded is not None and photo.prob is not None
        photo.size, photo.warnings, photo.exif = decoded.size, list(decoded.warnings), decoded.exif
        photo.images, photo.judged = _render(photo.job, decoded, photo.prob, self.settings, self.outputs,
                                             self.checks)
        photo.prob = None

    def _write(self, photo: _Photo) -> None:
        assert photo.images is not None
        if self.outputs:
            photo.written_outputs = write_outputs(photo.job, photo.images, self.outputs, photo.exif)
            return
        [image] = photo.images
        assert isinstance(image, Image.Image)
        write_output(photo.job, image, self.settings, photo.exif)

    def _fail(self, photo: _Photo, exc: BaseException, release: bool = True) -> None:
        photo.decoded = photo.tensor = photo.prob = photo.images = None
        if release:
            self.slots.release()
        job = photo.job
        self.results.put(Result(job.label, str(job.source), "cancelled", message="cancelled")
                         if isinstance(exc, _Cancelled) else failed(job, exc, photo.started))


def run_batch(
    engine: Engine,
    jobs: Iterable[Job],
    settings: ExportSettings,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    cancel: threading.Event | None = None,
    on_start: Callable[[Job], None] | None = None,
    stop: threading.Event | None = None,
    outputs: Outputs = (),
    checks: SourceChecks = DEFAULT_CHECKS,
) -> Iterator[Result]:
    """Process ``jobs`` with decode, inference, render and write overlapped (``_Batch``); yield
    results as they finish.

    A failing file yields a ``failed`` result and the batch goes on, whatever failed (the
    file, ``on_start``, a stage); if iterating ``jobs`` fails, that is reported and the files
    in flight finish. Setting ``cancel`` stops feeding new files; decoded files not yet
    inferred come back ``cancelled``. ``stop`` is the feeder's own "no more files" (a hot
    folder's); once either is set, files still unfinished after STOP_GRACE seconds without
    progress come back ``cancelled`` and the batch ends. ``outputs``: a delivery set's (id,
    settings), written from one mask per photo to each job's ``outputs`` paths; ``settings`` then
    says how that mask is made. ``checks``: the preset's source checks (app.batch.assessment); an
    enlargement they refuse fails that file (or that output of a set).
    """
    cancel = cancel or threading.Event()
    stop = stop or threading.Event()
    engine.load()  # fail fast (missing/tampered model) before touching any file
    batch = _Batch(engine, settings, max_pixels, cancel, on_start, outputs, checks)
    threads = batch.start(jobs)
    gave_up = False
    try:
        while (result := _next_result(batch.results, lambda: cancel.is_set() or stop.is_set())) is not _DONE:
            if result is None:  # stopped, and a file is stuck: give up on what is left
                gave_up = True
                yield from _unfinished(batch.in_flight, "cancelled", "stopped before this file was finished")
                return
            batch.in_flight.pop((result.label, result.source), None)
            yield result
        yield from _unfinished(batch.in_flight, "failed", "not finished: the batch stopped unexpectedly")
    finally:
        # Normal end, Ctrl+C or the caller stopping early: stop feeding, let the file being
        # written finish (so no partial output is left), and wait for the stages to drain,
        # but not for ever: a stage stuck on a dead share is a daemon thread, left behind.
        cancel.set()
        deadline = time.monotonic() + (0.0 if gave_up else STOP_GRACE)
        for thread in threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
