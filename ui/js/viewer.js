// The editor canvas: the photo (cutout, original or mask) over a chosen background,
// zoom and pan, and the before/after divider.
//
// Pixels come from the loopback server as images (see tiles.js): the whole-picture
// preview while that is sharp enough, and 512-px tiles of the visible area above that.
// Images sit in a "world" div sized in full-resolution image pixels; one CSS transform
// maps it to the screen, so zooming and panning never re-fetch what is already there.

import { Layer, bumpVersion, dropCache, prefetchPreview } from './tiles.js';

export const MAX_ZOOM = 8; // 800 % in device pixels

export class Viewer {
  constructor({ viewport, backdrop, under, main, overlay, divider, handle }) {
    this.viewport = viewport;
    this.backdrop = backdrop;
    this.overlay = overlay;
    this.divider = divider;
    this.handle = handle;
    this.underEl = under;
    this.mainEl = main;
    this.under = new Layer(under, () => this.loaded());
    this.main = new Layer(main, () => this.loaded());
    this.doc = null;
    this.view = 'cutout'; // or 'mask'
    this.showOriginal = false; // toolbar toggle
    this.holdOriginal = false; // while O is held
    this.compare = false;
    this.split = 0.5; // divider position, share of the viewport width
    this.background = 'checker';
    this.customColor = '#4a90d9';
    this.zoom = 1;
    this.tx = 0;
    this.ty = 0;
    this.fitted = true;
    this.width = 0;
    this.height = 0;
    this.listeners = new Set();
    this.settleWaiters = [];
    this.frame = 0;
    this.pan = null;
    this.spaceHeld = false;
    this.tool = 'hand';
    this.brush = null; // {down, move, up, hover, leave} from brush.js

    new ResizeObserver(() => this.resize()).observe(viewport);
    window.addEventListener('resize', () => this.resize()); // also fires when the screen scale changes
    this.bindPointer();
    this.bindDivider();
    this.resize();
  }

  // ---- state ------------------------------------------------------------------
  onChange(fn) {
    this.listeners.add(fn);
  }

  changed() {
    for (const fn of this.listeners) fn(this);
    this.requestRender();
  }

  get ready() {
    return Boolean(this.doc && !this.doc.placeholder);
  }

  /** Show a finished document ({id, width, height, levels, tile, version}) or a placeholder. */
  setDocument(doc) {
    const same = this.doc && doc && this.doc.id === doc.id;
    if (!same) {
      if (this.doc) dropCache(this.doc.id);
      this.under.clear();
      this.main.clear();
    }
    const keepView = same && this.doc.width === doc?.width && !this.fitted;
    this.doc = doc;
    if (!doc) {
      this.viewport.dataset.doc = '';
      this.changed();
      return;
    }
    this.viewport.dataset.doc = doc.id;
    if (!keepView) this.fit();
    else this.changed();
  }

  /** The mask changed (stroke, undo, reset): refetch what shows it, only tiles in `box` if given. */
  setVersion(version, box) {
    const doc = this.doc;
    if (!doc || doc.version === version) return;
    bumpVersion(doc, version, box);
    this.doc = { ...doc, version };
    this.changed();
  }

  /** Resolves once everything on screen for the current version has loaded (or after 3 s). */
  settled() {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, 3000);
      this.settleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
      this.requestRender();
    });
  }

  loaded() {
    this.requestRender();
  }

  /** The view the main layer shows right now. */
  get mainView() {
    if (this.doc && this.doc.placeholder) return 'original';
    if (this.showOriginal || this.holdOriginal) return 'original';
    return this.view;
  }

  /** A new picture of photo `id` (a first look, a full answer) exists: fetch it now, while the
   *  page asks Python for the document's state, instead of after. */
  prefetch(id, version) {
    prefetchPreview(id, this.showOriginal || this.holdOriginal ? 'original' : this.view, version);
  }

  setView(view) {
    this.view = view;
    this.changed();
  }

  setShowOriginal(on) {
    this.showOriginal = on;
    this.changed();
  }

  setHoldOriginal(on) {
    if (this.holdOriginal === on) return;
    this.holdOriginal = on;
    this.changed();
  }

  setCompare(on) {
    this.compare = on;
    this.changed();
  }

  setBackground(kind, color) {
    this.background = kind;
    if (color) this.customColor = color;
    this.changed();
  }

  setTool(tool) {
    this.tool = tool;
    this.changed();
  }

  // ---- geometry ---------------------------------------------------------------
  get dpr() {
    return window.devicePixelRatio || 1;
  }

  resize() {
    const rect = this.viewport.getBoundingClientRect();
    this.width = rect.width;
    this.height = rect.height;
    const dpr = this.dpr;
    this.overlay.width = Math.round(rect.width * dpr);
    this.overlay.height = Math.round(rect.height * dpr);
    if (this.fitted && this.doc) this.fit();
    else this.changed();
  }

  fitZoom() {
    if (!this.doc || !this.width || !this.height) return 1;
    const pad = 32;
    const z = Math.min((this.width - pad) / this.doc.width, (this.height - pad) / this.doc.height);
    return Math.min(MAX_ZOOM / this.dpr, Math.max(0.01, z));
  }

  minZoom() {
    return Math.min(0.05, this.fitZoom() / 2);
  }

  fit() {
    if (!this.doc) return;
    this.zoom = this.fitZoom();
    this.tx = (this.width - this.doc.width * this.zoom) / 2;
    this.ty = (this.height - this.doc.height * this.zoom) / 2;
    this.fitted = true;
    this.changed();
  }

  /** Zoom to `zoom` keeping the image point under (cx, cy) in place (viewport coordinates). */
  zoomTo(zoom, cx = this.width / 2, cy = this.height / 2) {
    if (!this.doc) return;
    const next = Math.min(MAX_ZOOM / this.dpr, Math.max(this.minZoom(), zoom));
    const ix = (cx - this.tx) / this.zoom;
    const iy = (cy - this.ty) / this.zoom;
    this.zoom = next;
    this.tx = cx - ix * next;
    this.ty = cy - iy * next;
    this.fitted = false;
    this.clampPan();
    this.changed();
  }

  zoomBy(factor, cx, cy) {
    this.zoomTo(this.zoom * factor, cx, cy);
  }

  /** 100 %: one photo pixel per screen pixel. */
  actualSize() {
    this.zoomTo(1 / this.dpr);
  }

  panBy(dx, dy) {
    if (!this.doc) return;
    this.tx += dx;
    this.ty += dy;
    this.fitted = false;
    this.clampPan();
    this.changed();
  }

  clampPan() {
    // Never lose the photo: at least half the viewport keeps some of it in view.
    const w = this.doc.width * this.zoom;
    const h = this.doc.height * this.zoom;
    this.tx = Math.min(this.width / 2, Math.max(this.width / 2 - w, this.tx));
    this.ty = Math.min(this.height / 2, Math.max(this.height / 2 - h, this.ty));
  }

  /** Viewport (CSS px) -> full-resolution image coordinates. */
  toImage(x, y) {
    return [(x - this.tx) / this.zoom, (y - this.ty) / this.zoom];
  }

  toScreen(ix, iy) {
    return [ix * this.zoom + this.tx, iy * this.zoom + this.ty];
  }

  localPoint(event) {
    const rect = this.viewport.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  // ---- input ------------------------------------------------------------------
  bindPointer() {
    const vp = this.viewport;
    vp.addEventListener('wheel', (event) => {
      if (!this.doc) return;
      event.preventDefault();
      const unit = event.deltaMode === 1 ? 16 : event.deltaMode === 2 ? this.height : 1;
      const speed = event.ctrlKey ? 0.01 : 0.0015; // pinch gestures arrive as ctrl+wheel with small deltas
      const [cx, cy] = this.localPoint(event);
      this.zoomBy(Math.exp(-event.deltaY * unit * speed), cx, cy);
    }, { passive: false });

    vp.addEventListener('pointerdown', (event) => {
      if (!this.doc) return;
      // Focus for the arrow keys, without a focus ring on a mouse click.
      vp.focus({ preventScroll: true, focusVisible: false });
      const wantsPan = event.button === 1 || (event.button === 0 && (this.tool === 'hand' || this.spaceHeld || !this.ready));
      if (wantsPan) {
        event.preventDefault();
        this.pan = { id: event.pointerId, x: event.clientX, y: event.clientY };
        vp.setPointerCapture(event.pointerId);
        vp.classList.add('panning');
      } else if (event.button === 0 && this.brush) {
        event.preventDefault();
        vp.setPointerCapture(event.pointerId);
        this.brush.down(event, this.localPoint(event));
      }
    });
    vp.addEventListener('pointermove', (event) => {
      if (this.pan && event.pointerId === this.pan.id) {
        this.panBy(event.clientX - this.pan.x, event.clientY - this.pan.y);
        this.pan.x = event.clientX;
        this.pan.y = event.clientY;
        return;
      }
      if (this.brush) {
        const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [];
        const points = (events.length ? events : [event]).map((e) => this.localPoint(e));
        this.brush.move(event, points);
      }
    });
    const end = (event) => {
      if (this.pan && event.pointerId === this.pan.id) {
        this.pan = null;
        vp.classList.remove('panning');
      } else if (this.brush) {
        this.brush.up(event, this.localPoint(event));
      }
    };
    vp.addEventListener('pointerup', end);
    vp.addEventListener('pointercancel', end);
    vp.addEventListener('pointerleave', () => this.brush && this.brush.leave());
    vp.addEventListener('auxclick', (event) => event.preventDefault());
  }

  bindDivider() {
    const handle = this.handle;
    let dragging = null;
    handle.addEventListener('pointerdown', (event) => {
      event.stopPropagation();
      event.preventDefault();
      dragging = event.pointerId;
      handle.setPointerCapture(event.pointerId);
    });
    handle.addEventListener('pointermove', (event) => {
      if (dragging !== event.pointerId) return;
      const [x] = this.localPoint(event);
      this.split = Math.min(1, Math.max(0, x / this.width));
      this.changed();
    });
    const stop = () => {
      dragging = null;
    };
    handle.addEventListener('pointerup', stop);
    handle.addEventListener('pointercancel', stop);
    handle.addEventListener('keydown', (event) => {
      const step = event.shiftKey ? 0.1 : 0.02;
      if (event.key === 'ArrowLeft') this.split = Math.max(0, this.split - step);
      else if (event.key === 'ArrowRight') this.split = Math.min(1, this.split + step);
      else if (event.key === 'Home') this.split = 0;
      else if (event.key === 'End') this.split = 1;
      else return;
      event.preventDefault();
      event.stopPropagation();
      this.changed();
    });
  }

  // ---- drawing ----------------------------------------------------------------
  requestRender() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const doc = this.doc;
    const vp = this.viewport;
    vp.dataset.zoom = String(this.zoom);
    // The round brush cursor replaces the pointer only where a brush can paint.
    vp.classList.toggle('brush', this.tool !== 'hand' && this.ready);
    const backdrop = this.backdrop;
    if (!doc) {
      backdrop.hidden = true;
      this.under.clear();
      this.main.clear();
      this.divider.hidden = true;
      vp.dataset.level = '';
      this.flushSettled(true);
      return;
    }
    const v = { zoom: this.zoom, tx: this.tx, ty: this.ty, width: this.width, height: this.height, dpr: this.dpr };

    // The background sits behind the photo's own rectangle only.
    backdrop.hidden = false;
    backdrop.style.left = `${this.tx}px`;
    backdrop.style.top = `${this.ty}px`;
    backdrop.style.width = `${doc.width * this.zoom}px`;
    backdrop.style.height = `${doc.height * this.zoom}px`;
    backdrop.className = `backdrop bg-${this.background}`;
    backdrop.style.backgroundColor = this.background === 'custom' ? this.customColor : '';

    const compare = this.compare && this.ready && !this.holdOriginal && !this.showOriginal;
    const mainView = compare ? this.view : this.mainView;
    const level = this.main.render(v, doc, mainView);
    vp.dataset.view = mainView;
    vp.dataset.level = level === null ? 'preview' : String(level);
    vp.dataset.version = String(doc.version);
    if (compare) {
      this.underEl.hidden = false;
      this.under.render(v, doc, 'original');
      const x = Math.round(this.split * this.width);
      // Each side shows only its own half: the cutout's transparent parts must show the
      // chosen background, not the original underneath.
      this.underEl.style.clipPath = `inset(0 ${Math.max(0, this.width - x)}px 0 0)`;
      this.mainEl.style.clipPath = `inset(0 0 0 ${x}px)`;
      this.divider.hidden = false;
      this.divider.style.left = `${x}px`;
      this.handle.setAttribute('aria-valuenow', String(Math.round(this.split * 100)));
    } else {
      this.underEl.hidden = true;
      this.underEl.style.clipPath = '';
      this.mainEl.style.clipPath = '';
      this.divider.hidden = true;
    }
    this.flushSettled(this.main.pending === 0 && (!compare || this.under.pending === 0));
  }

  flushSettled(done) {
    if (!done || !this.settleWaiters.length) return;
    const waiters = this.settleWaiters;
    this.settleWaiters = [];
    for (const fn of waiters) fn();
  }
}
