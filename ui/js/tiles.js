// Pictures of one document on screen: the whole-picture preview and the 512-px tiles of
// the visible area, cached by (id, view, version, z, x, y). Used by viewer.js.

import { dataUrl } from './bridge.js';
import { el } from './ui.js';

const PREVIEW_MAX = 2048;
const TILE_CACHE_LIMIT = 200; // ~50 MP of tiles: enough for panning back and forth

// Tiles by (id, view, version, z, x, y); insertion order doubles as LRU order.
const tileCache = new Map();

function cacheGet(key) {
  const img = tileCache.get(key);
  if (img) {
    tileCache.delete(key);
    tileCache.set(key, img);
  }
  return img;
}

function cachePut(key, img) {
  tileCache.set(key, img);
  while (tileCache.size > TILE_CACHE_LIMIT) tileCache.delete(tileCache.keys().next().value);
}

export function dropCache(docId, keep = () => false) {
  for (const [key, img] of [...tileCache]) {
    if (key.startsWith(`${docId}|`) && !keep(key, img)) tileCache.delete(key);
  }
}

/** One stack of images for one view (the compare mode shows two). */
const early = new Map(); // URL -> an image fetched ahead of the viewer (see prefetchPreview)

/** Start fetching a document's whole picture before the viewer asks for it: the viewer's own
 *  <img> for the same URL then comes from the browser's cache, or joins this fetch. */
export function prefetchPreview(docId, view, version) {
  const src = dataUrl(`/doc/${docId}/preview`, { view, v: view === 'original' ? 0 : version });
  if (early.has(src)) return;
  const img = new Image();
  early.set(src, img);
  const forget = () => setTimeout(() => early.delete(src), 10_000);
  img.addEventListener('load', forget);
  img.addEventListener('error', forget);
  img.src = src;
}

export class Layer {
  constructor(container, onLoaded) {
    this.container = container;
    this.world = el('div', { class: 'world' });
    container.append(this.world);
    this.onLoaded = onLoaded;
    this.preview = null; // the <img> on screen
    this.previewSrc = '';
    this.pendingPreview = null;
    this.attached = new Set();
    this.lastLoaded = new Map(); // position key -> last loaded tile there (any version)
    this.pending = 0;
  }

  clear() {
    this.world.replaceChildren();
    this.preview = null;
    this.previewSrc = '';
    this.pendingPreview = null;
    this.attached.clear();
    this.lastLoaded.clear();
    this.pending = 0;
  }

  render(v, doc, view) {
    const world = this.world;
    world.style.transform = `translate(${v.tx}px, ${v.ty}px) scale(${v.zoom})`;
    world.style.width = `${doc.width}px`;
    world.style.height = `${doc.height}px`;
    world.classList.toggle('pixelated', v.zoom * v.dpr > 1);
    let pending = 0;

    // The whole picture: always there underneath, so gaps never show while tiles load.
    const version = view === 'original' ? 0 : doc.version;
    const src = dataUrl(`/doc/${doc.id}/preview`, { view, v: version });
    if (src !== this.previewSrc) {
      this.previewSrc = src;
      const next = el('img', { class: 'preview', alt: '', draggable: 'false', decoding: 'async' });
      next.style.width = `${doc.width}px`;
      next.style.height = `${doc.height}px`;
      next.style.left = '0px';
      next.style.top = '0px';
      this.pendingPreview = next;
      next.addEventListener('load', () => {
        if (this.pendingPreview !== next) return;
        if (this.preview) this.preview.remove();
        this.preview = next;
        this.pendingPreview = null;
        world.prepend(next);
        this.onLoaded();
      });
      next.addEventListener('error', () => {
        if (this.pendingPreview === next) this.pendingPreview = null;
        this.onLoaded();
      });
      next.src = src;
    }
    if (this.pendingPreview) pending += 1;

    // Tiles for the visible area once the preview is not sharp enough.
    const wanted = [];
    const tiles = doc.placeholder ? [] : visibleTiles(v, doc);
    for (const t of tiles) {
      const key = `${doc.id}|${view}|${version}|${t.z}|${t.x}|${t.y}`;
      const pos = `${view}|${t.z}|${t.x}|${t.y}`;
      let img = cacheGet(key);
      if (!img) {
        img = el('img', { class: 'tile', alt: '', draggable: 'false', decoding: 'async' });
        img.dataset.z = t.z;
        img.dataset.x = t.x;
        img.dataset.y = t.y;
        img.addEventListener('load', () => {
          img.classList.add('loaded');
          this.onLoaded();
        });
        img.addEventListener('error', () => {
          img.dataset.failed = '1';
          this.onLoaded();
        });
        img.src = dataUrl(`/doc/${doc.id}/tile/${t.z}/${t.x}/${t.y}`, { view, v: version });
        cachePut(key, img);
      }
      // Inner edges overlap by one screen pixel so fractional zooms show no hairline seams.
      const bleed = 1 / v.zoom;
      img.style.left = `${t.left}px`;
      img.style.top = `${t.top}px`;
      img.style.width = `${t.width + (t.left + t.width < doc.width ? bleed : 0)}px`;
      img.style.height = `${t.height + (t.top + t.height < doc.height ? bleed : 0)}px`;
      if (img.classList.contains('loaded')) {
        this.lastLoaded.set(pos, img);
      } else if (!img.dataset.failed) {
        pending += 1;
        // Keep the previous version of this tile on screen until the new one arrives.
        const old = this.lastLoaded.get(pos);
        if (old && old !== img) wanted.push(old);
      }
      wanted.push(img);
    }
    const keep = new Set(wanted);
    for (const img of this.attached) {
      if (!keep.has(img)) img.remove();
    }
    for (const img of wanted) {
      if (img.parentNode !== world) world.append(img);
    }
    // Stale tiles first, current on top (only needed while stale ones are shown).
    if (wanted.length > tiles.length) {
      for (const img of wanted) {
        if (img.classList.contains('loaded')) world.append(img);
      }
    }
    this.attached = keep;
    this.pending = pending;
    return tiles.length ? tiles[0].z : null;
  }
}

/** Tile level for a zoom: z = max(0, floor(log2(1 / zoom))) in device pixels. */
export function tileLevel(zoomDevice, levels) {
  const z = Math.max(0, Math.floor(Math.log2(1 / zoomDevice)));
  return Math.min(z, Math.max(0, levels - 1));
}

function visibleTiles(v, doc) {
  const zoomDevice = v.zoom * v.dpr;
  const previewScale = Math.min(1, PREVIEW_MAX / Math.max(doc.width, doc.height));
  if (zoomDevice <= previewScale) return [];
  const tile = doc.tile || 512;
  const z = tileLevel(zoomDevice, doc.levels || 1);
  const scale = 2 ** z;
  const span = tile * scale; // full-res pixels covered by one tile
  const x0 = Math.max(0, -v.tx / v.zoom);
  const y0 = Math.max(0, -v.ty / v.zoom);
  const x1 = Math.min(doc.width, (v.width - v.tx) / v.zoom);
  const y1 = Math.min(doc.height, (v.height - v.ty) / v.zoom);
  if (x1 <= x0 || y1 <= y0) return [];
  const out = [];
  for (let ty = Math.floor(y0 / span); ty <= Math.floor((y1 - 1e-6) / span); ty += 1) {
    for (let tx = Math.floor(x0 / span); tx <= Math.floor((x1 - 1e-6) / span); tx += 1) {
      const left = tx * span;
      const top = ty * span;
      out.push({
        z, x: tx, y: ty, left, top,
        width: Math.min(doc.width, left + span) - left,
        height: Math.min(doc.height, top + span) - top,
      });
    }
  }
  return out;
}


/** A document's mask changed: keep cached tiles outside `box` under the new version, drop the rest. */
export function bumpVersion(doc, version, box) {
  const old = doc.version;
  const tile = doc.tile || 512;
  for (const [key, img] of [...tileCache]) {
    const [id, view, v, z, x, y] = key.split('|');
    if (id !== doc.id || view === 'original' || Number(v) !== old) continue;
    tileCache.delete(key);
    const span = tile * 2 ** Number(z);
    const x0 = Number(x) * span;
    const y0 = Number(y) * span;
    const untouched = box && (x0 >= box[2] || y0 >= box[3] || x0 + span <= box[0] || y0 + span <= box[1]);
    if (untouched) cachePut([id, view, version, z, x, y].join('|'), img);
  }
}
