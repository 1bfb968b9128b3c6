// Touch-up brushes (Erase / Restore), undo/redo/reset.
//
// A stroke is collected as points in full-resolution image coordinates while the user
// drags, drawn live on the overlay canvas for feedback, and sent once on pointerup as
// api.stroke(id, {mode, radius, hardness, points}). Python paints the real mask; we then
// refetch only the tiles inside the changed box. Whole-mask fixes (punch holes, recover parts)
// run on the app's job runner: the call queues one, and its answer (the same shape) comes with
// the photo's next `item` event as `edit`.

import { call, on } from './bridge.js';
import { onLanguage, percent, t } from './i18n.js';
import { $, $$, showError } from './ui.js';

const MAX_POINTS = 20000;
const FIXES = new Set(['punch_holes', 'recover_parts']);
const FIX_PATIENCE_MS = 60000; // then stop waiting: a later item event still shows the change

export class Brush {
  constructor(viewer, { onEdited }) {
    this.viewer = viewer;
    this.onEdited = onEdited;
    this.tool = 'hand';
    this.size = 40; // diameter in screen pixels: feels the same at every zoom
    this.hardness = 0.8;
    this.stroke = null; // {mode, points: [[x, y]], radius}
    this.cursor = null; // [x, y] in viewport pixels
    this.busy = Promise.resolve(); // strokes go to Python one after another, in order
    this.state = { can_undo: false, can_redo: false };
    this.fixes = new Map(); // doc id -> settles the queued whole-mask fix's answer
    on('item', (event) => {
      const settle = event.edit && this.fixes.get(event.item.id);
      if (settle) settle(event.edit);
    });

    viewer.brush = this;
    viewer.onChange(() => this.draw());
    this.sizeInput = $('#brush-size');
    this.hardInput = $('#brush-hardness');
    this.sizeInput.addEventListener('input', () => this.setSize(Number(this.sizeInput.value)));
    this.hardInput.addEventListener('input', () => this.setHardness(Number(this.hardInput.value) / 100));
    onLanguage(() => { // "40 px", "80 %" as the language writes them
      this.setSize(this.size);
      this.setHardness(this.hardness);
    });
    for (const button of $$('[data-tool]')) {
      button.addEventListener('click', () => this.setTool(button.dataset.tool));
    }
    $('#undo-btn').addEventListener('click', () => this.history('undo'));
    $('#redo-btn').addEventListener('click', () => this.history('redo'));
    $('#reset-btn').addEventListener('click', () => this.history('reset'));
    $('#holes-btn').addEventListener('click', () => this.history('punch_holes'));
    $('#recover-btn').addEventListener('click', () => this.history('recover_parts'));
    this.setSize(this.size);
    this.setHardness(this.hardness);
    this.refreshButtons();
  }

  get editing() {
    return this.tool === 'erase' || this.tool === 'restore';
  }

  setTool(tool) {
    this.tool = tool;
    for (const button of $$('[data-tool]')) {
      button.setAttribute('aria-checked', String(button.dataset.tool === tool));
    }
    this.viewer.setTool(tool);
  }

  /** B: switch between the two brushes (from Move it picks Erase). */
  toggle() {
    this.setTool(this.tool === 'erase' ? 'restore' : 'erase');
  }

  setSize(size) {
    this.size = Math.max(2, Math.min(300, Math.round(size)));
    this.sizeInput.value = String(this.size);
    $('#size-out').textContent = t('unit.px', { value: this.size });
    this.draw();
  }

  /** [ and ]: about 15 % per press so both small and big brushes change usefully. */
  grow(direction) {
    const step = Math.max(2, Math.round(this.size * 0.15));
    this.setSize(this.size + direction * step);
  }

  setHardness(value) {
    this.hardness = Math.max(0, Math.min(1, value));
    this.hardInput.value = String(Math.round(this.hardness * 100));
    $('#hard-out').textContent = percent(this.hardness);
  }

  /** New document on screen: its undo state. */
  setEditState(state) {
    this.state = { can_undo: Boolean(state && state.can_undo), can_redo: Boolean(state && state.can_redo) };
    this.refreshButtons();
  }

  refreshButtons() {
    const ready = this.viewer.ready;
    $('#undo-btn').disabled = !ready || !this.state.can_undo;
    $('#redo-btn').disabled = !ready || !this.state.can_redo;
    $('#reset-btn').disabled = !ready;
    const preview = ready && Boolean(this.viewer.doc.preview); // whole-mask fixes wait for the full answer
    $('#holes-btn').disabled = !ready || preview;
    $('#recover-btn').disabled = !ready || preview;
    for (const button of $$('[data-tool]')) button.disabled = button.dataset.tool !== 'hand' && !ready;
  }

  // ---- pointer (called by the viewer) ------------------------------------------
  down(event, [x, y]) {
    if (!this.editing || !this.viewer.ready) return;
    const v = this.viewer;
    this.stroke = {
      docId: v.doc.id,
      mode: this.tool,
      radius: Math.min(2000, Math.max(0.5, this.size / 2 / v.zoom)),
      points: [v.toImage(x, y)],
      last: [x, y],
    };
    this.cursor = [x, y];
    this.draw();
  }

  move(event, points) {
    this.cursor = points[points.length - 1];
    if (this.stroke) {
      for (const [x, y] of points) {
        // Skip points closer than 2 screen px: invisible difference, far less data.
        const [lx, ly] = this.stroke.last;
        if (Math.hypot(x - lx, y - ly) < 2) continue;
        if (this.stroke.points.length >= MAX_POINTS) break;
        this.stroke.points.push(this.viewer.toImage(x, y));
        this.stroke.last = [x, y];
      }
    }
    this.draw();
  }

  up(event, [x, y]) {
    const stroke = this.stroke;
    if (!stroke) return;
    if (stroke.points.length < MAX_POINTS && Math.hypot(x - stroke.last[0], y - stroke.last[1]) >= 1) {
      stroke.points.push(this.viewer.toImage(x, y));
    }
    this.send(stroke);
  }

  leave() {
    this.cursor = null;
    this.draw();
  }

  send(stroke) {
    const payload = {
      mode: stroke.mode,
      radius: Math.round(stroke.radius * 100) / 100,
      hardness: this.hardness,
      points: stroke.points.map(([px, py]) => [Math.round(px * 10) / 10, Math.round(py * 10) / 10]),
    };
    this.busy = this.busy.then(async () => {
      const result = await call('stroke', stroke.docId, payload);
      await this.applied(stroke.docId, result);
      if (this.stroke === stroke) {
        this.stroke = null;
        this.draw();
      }
    });
  }

  /** Undo / redo / reset / the whole-mask fixes, in line with strokes still on their way. */
  history(kind) {
    if (!this.viewer.ready) return;
    const docId = this.viewer.doc.id;
    this.busy = this.busy.then(async () => {
      if (kind === 'undo' && !this.state.can_undo) return;
      if (kind === 'redo' && !this.state.can_redo) return;
      const result = FIXES.has(kind) ? await this.fix(kind, docId) : await call(kind, docId);
      if (result) await this.applied(docId, result);
    });
  }

  /** Queue a whole-mask fix; resolves to its answer (or the call's error, or null after a minute). */
  fix(kind, docId) {
    return new Promise((resolve) => {
      const settle = (answer) => {
        clearTimeout(timer);
        if (this.fixes.get(docId) === settle) this.fixes.delete(docId);
        resolve(answer);
      };
      const timer = setTimeout(() => settle(null), FIX_PATIENCE_MS);
      this.fixes.set(docId, settle); // before the call: the answer may come before the call returns
      call(kind, docId).then((queued) => {
        if (!queued.ok) settle(queued);
      });
    });
  }

  async applied(docId, result) {
    if (!result.ok) {
      showError(result, t('touch.failed'));
      return;
    }
    if (!this.viewer.doc || this.viewer.doc.id !== docId) return;
    this.setEditState(result);
    this.viewer.setVersion(result.version, result.box);
    this.onEdited(docId, result);
    await this.viewer.settled();
  }

  // ---- overlay ---------------------------------------------------------------
  draw() {
    const canvas = this.viewer.overlay;
    const ctx = canvas.getContext('2d');
    const dpr = this.viewer.dpr;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    const v = this.viewer;
    if (this.stroke && v.doc && v.doc.id === this.stroke.docId) {
      // The stroke is kept in image coordinates, so it follows zoom and pan.
      ctx.lineCap = 'round';
      ctx.lineJoin = 'round';
      ctx.lineWidth = this.stroke.radius * 2 * v.zoom;
      ctx.strokeStyle = this.stroke.mode === 'erase' ? 'rgba(230, 40, 40, 0.5)' : 'rgba(40, 190, 90, 0.5)';
      ctx.fillStyle = ctx.strokeStyle;
      ctx.beginPath();
      const [first, ...rest] = this.stroke.points.map(([px, py]) => v.toScreen(px, py));
      if (rest.length === 0) {
        ctx.arc(first[0], first[1], ctx.lineWidth / 2, 0, Math.PI * 2);
        ctx.fill();
      } else {
        ctx.moveTo(first[0], first[1]);
        for (const [px, py] of rest) ctx.lineTo(px, py);
        ctx.stroke();
      }
    }
    if (this.cursor && this.editing && v.ready) {
      const [x, y] = this.cursor;
      const r = this.size / 2;
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = 'rgba(0, 0, 0, 0.8)';
      ctx.beginPath();
      ctx.arc(x, y, r + 1, 0, Math.PI * 2);
      ctx.stroke();
      ctx.strokeStyle = 'rgba(255, 255, 255, 0.95)';
      ctx.beginPath();
      ctx.arc(x, y, r, 0, Math.PI * 2);
      ctx.stroke();
      // The soft part of the brush: inside this ring it paints fully.
      if (this.hardness < 1 && r > 6) {
        ctx.setLineDash([3, 3]);
        ctx.beginPath();
        ctx.arc(x, y, r * Math.max(0.05, this.hardness), 0, Math.PI * 2);
        ctx.stroke();
        ctx.setLineDash([]);
      }
    }
  }
}
