// The list of photos on the left: thumbnail, name, state (with progress, quality flags
// or the reason it failed), its review (to check / approved / rejected) with a filter and
// live counts, per-item actions, overall "N of M done", and selection (click, or up/down
// with the list focused).

import { call, dataUrl } from './bridge.js';
import { ReviewFilter, finished, reviewState } from './filter.js';
import { percent, t } from './i18n.js';
import { errorText, flagText } from './messages.js';
import { $, announce, confirmAction, el, icon, showError } from './ui.js';



export class Queue {
  constructor({ onSelect, onChange }) {
    this.items = new Map(); // id -> Item, in list order
    this.rows = new Map(); // id -> <li>
    this.selectedId = null;
    this.exported = new Map(); // id -> version that was exported (an edit afterwards clears it)
    this.gone = new Set(); // removed ids: a late progress event must not bring a row back
    this.summary = { total: 0, queued: 0, working: 0, done: 0, flagged: 0, failed: 0, cancelled: 0 };
    this.onSelect = onSelect;
    this.onChange = onChange;
    this.review = new ReviewFilter(() => this.filterChanged()); // which photos the list shows
    this.list = $('#queue-list');
    this.list.addEventListener('keydown', (event) => this.keydown(event));
    $('#clear-btn').addEventListener('click', () => this.clear());
    $('#cancel-all-btn').addEventListener('click', async () => {
      const result = await call('cancel', null);
      if (!result.ok) showError(result);
    });
    this.renderSummary();
  }

  get selected() {
    return this.selectedId ? this.items.get(this.selectedId) || null : null;
  }

  /** Replace everything with a fresh snapshot from api.queue(). */
  load(items, summary) {
    const ids = new Set(items.map((item) => item.id));
    for (const id of [...this.items.keys()]) {
      if (!ids.has(id)) this.drop(id);
    }
    for (const item of items) this.update(item);
    if (summary) this.setSummary(summary);
    if (this.selectedId && !this.items.has(this.selectedId)) this.select(null);
  }

  update(item, summary) {
    if (this.gone.has(item.id)) return;
    const before = this.items.get(item.id);
    this.items.set(item.id, item);
    let row = this.rows.get(item.id);
    if (!row) {
      row = el('li', { class: 'q-item' });
      this.rows.set(item.id, row);
      this.list.append(row);
    }
    if (onlyProgress(before, item)) {
      this.moveBar(row, item);
    } else {
      this.fill(row, item, before);
    }
    if (summary) this.setSummary(summary);
    this.renderReviewCounts();
    this.onChange(item, before);
  }

  /** A progress tick: move the bar and the percentage in place. Rebuilding the row several
   *  times a second makes the page lay out and repaint while the model needs the cores. */
  moveBar(row, item) {
    const state = row.querySelector('.q-state');
    if (state) state.textContent = this.stateText(item);
    const fill = row.querySelector('.q-bar .bar-fill');
    if (fill) fill.style.width = `${Math.round((item.progress || 0) * 100)}%`;
  }

  remove(id, summary) {
    const wasSelected = this.selectedId === id;
    const ids = [...this.items.keys()];
    const index = ids.indexOf(id);
    this.drop(id);
    if (summary) this.setSummary(summary);
    if (wasSelected) {
      const rest = [...this.items.keys()];
      this.select(rest[Math.min(index, rest.length - 1)] || null);
    }
  }

  drop(id) {
    this.gone.add(id);
    const row = this.rows.get(id);
    if (row) {
      const thumb = row.querySelector('img.q-thumb');
      if (thumb) thumb.dataset.stale = '1';
      row.remove();
    }
    this.rows.delete(id);
    this.items.delete(id);
    this.exported.delete(id);
    this.roving();
    this.renderReviewCounts();
  }

  /** An export of this photo was written (from the Export card or the hot folder). */
  markExported(id) {
    const item = this.items.get(id);
    if (!item) return;
    this.exported.set(id, item.version);
    this.fill(this.rows.get(id), item, item);
  }

  setSummary(summary) {
    this.summary = summary;
    this.renderSummary();
  }

  renderSummary() {
    const s = this.summary;
    const finished = s.done + s.flagged;
    let text = s.total ? t('queue.done_of', { done: finished, total: s.total }) : t('queue.none');
    const extra = [];
    if (s.flagged) extra.push(t('queue.flagged', { count: s.flagged }));
    if (s.failed) extra.push(t('queue.failed', { count: s.failed }));
    if (extra.length) text += ` · ${extra.join(', ')}`;
    $('#overall-text').textContent = text;
    if (s.total) announce(text.replace(' · ', ', ')); // once per change of the counts, never per progress tick
    // The bar counts everything the worker is finished with, plus the one in progress.
    let progress = s.done + s.flagged + s.failed + s.cancelled;
    for (const item of this.items.values()) {
      if (item.state === 'working' || item.state === 'queued') progress += item.progress || 0; // a preview: 0.3
    }
    const share = s.total ? progress / s.total : 0;
    $('#overall-bar').style.width = `${Math.round(share * 1000) / 10}%`;
    const wrap = $('#overall-bar-wrap');
    wrap.setAttribute('role', 'progressbar');
    wrap.setAttribute('aria-label', t('queue.progress'));
    wrap.setAttribute('aria-valuemin', '0');
    wrap.setAttribute('aria-valuemax', '100');
    wrap.setAttribute('aria-valuenow', String(Math.round(share * 100)));
    $('#cancel-all-btn').hidden = !(s.queued + s.working);
    $('#clear-btn').disabled = s.total === 0;
  }

  fill(row, item, before) {
    row.dataset.id = item.id;
    row.dataset.state = item.state;
    row.dataset.review = finished(item) ? reviewState(item) : 'none';
    row.hidden = !this.review.shows(item);
    row.dataset.preview = item.preview ? 'true' : 'false';
    row.classList.toggle('selected', item.id === this.selectedId);

    // One <img> per row: on a new version the old picture stays up until the new one loads.
    let thumb = row.querySelector('.q-thumb');
    const thumbSrc = dataUrl(`/doc/${item.id}/thumb`, { v: item.version });
    if (item.state === 'failed' && !item.width) {
      thumb = placeholderThumb(); // an unreadable file has no picture to show
    } else {
      if (!thumb || thumb.tagName !== 'IMG') {
        thumb = el('img', { class: 'q-thumb', alt: '', draggable: 'false' });
        const img = thumb;
        img.addEventListener('error', () => {
          if (img.getAttribute('src')) img.replaceWith(placeholderThumb());
        });
      }
      if (thumb.dataset.src !== thumbSrc) {
        thumb.dataset.src = thumbSrc;
        loadThumb(thumb, thumbSrc);
      }
    }

    const stateText = this.stateText(item);
    const details = [];
    if (item.state === 'failed' || item.state === 'cancelled') {
      if (item.message && item.code !== 'cancelled' && item.message !== 'Cancelled') details.push(sentence(errorText(item)));
    }
    if (item.state === 'flagged') for (const flag of item.flags || []) details.push(flagText(flag));

    const select = el('button', {
      type: 'button',
      class: 'q-select',
      'aria-current': item.id === this.selectedId ? 'true' : null,
      onclick: () => this.select(item.id, true),
    },
    thumb,
    el('span', { class: 'q-text' },
      el('span', { class: 'q-name', text: item.name, title: item.path }),
      el('span', { class: 'q-state', text: stateText }),
      finished(item) ? this.review.badge(item) : null,
      item.state === 'working'
        ? el('span', { class: 'bar q-bar', 'aria-hidden': 'true' }, progressFill(item.progress))
        : null,
      details.length ? el('ul', { class: 'q-detail' }, ...details.map((text) => el('li', { text }))) : null));

    const actions = el('span', { class: 'q-actions' });
    if (item.state === 'queued' || item.state === 'working') {
      actions.append(actionButton('stop', t('queue.stop_item', { name: item.name }), t('queue.stop'), () => call('cancel', item.id)));
    }
    if (item.state === 'failed' || item.state === 'cancelled') {
      actions.append(actionButton('retry', t('queue.retry_item', { name: item.name }), t('queue.retry'), () => call('retry', item.id)));
    }
    actions.append(actionButton('x', t('queue.remove_item', { name: item.name }), t('queue.remove'), () => call('remove', item.id)));

    const hadFocus = row.contains(document.activeElement) && document.activeElement.classList.contains('q-select');
    row.replaceChildren(select, actions);
    this.roving();
    if (hadFocus) select.focus();
  }

  stateText(item) {
    if (item.preview) {
      return item.state === 'working'
        ? t('state.preview_working', { percent: percent(item.progress) })
        : t('state.preview_soon');
    }
    if ((item.state === 'done' || item.state === 'flagged') && this.exported.get(item.id) === item.version) {
      return item.state === 'done' ? t('state.done_exported') : t('state.flagged_exported');
    }
    return item.state === 'working'
      ? t('state.working_percent', { percent: percent(item.progress) })
      : t(`state.${item.state}`, {}, item.state);
  }

  visibleIds() {
    return [...this.items.values()].filter((item) => this.review.shows(item)).map((item) => item.id);
  }

  /** The next photo to check after `fromId` among those the filter shows, or null. */
  nextToCheck(fromId) {
    return this.review.nextToCheck(this.visibleIds().map((id) => this.items.get(id)), fromId);
  }

  renderReviewCounts() {
    this.review.count(this.items.values());
  }

  /** Another filter: show its rows; a selection it hides moves to the first photo it shows. */
  filterChanged() {
    for (const [id, row] of this.rows) row.hidden = !this.review.shows(this.items.get(id));
    this.renderReviewCounts();
    this.roving();
    const selected = this.selected;
    const first = this.visibleIds()[0] || null;
    if ((selected && !this.review.shows(selected)) || (!selected && first)) this.select(first);
  }

  /** One tab stop for the whole list (the selected row); up/down moves within it. */
  roving() {
    const ids = this.visibleIds();
    const current = ids.includes(this.selectedId) ? this.selectedId : ids[0];
    for (const [id, row] of this.rows) {
      for (const button of row.querySelectorAll('button')) button.tabIndex = id === current ? 0 : -1;
    }
  }

  /** Every row and count again, in the language just chosen. */
  relabel() {
    for (const [id, row] of this.rows) this.fill(row, this.items.get(id), this.items.get(id));
    this.renderSummary();
    this.renderReviewCounts();
  }

  /** Select an item (or none); `user` means the user asked, so scroll it into view. */
  select(id, user = false) {
    const previous = this.selectedId;
    this.selectedId = id;
    for (const [rowId, row] of this.rows) {
      const on = rowId === id;
      row.classList.toggle('selected', on);
      const button = row.querySelector('.q-select');
      if (button) {
        if (on) button.setAttribute('aria-current', 'true');
        else button.removeAttribute('aria-current');
      }
    }
    this.roving();
    const row = id && this.rows.get(id);
    if (row && user) row.scrollIntoView({ block: 'nearest' });
    if (previous !== id || user) this.onSelect(id ? this.items.get(id) : null);
  }

  /** Move the selection by `step` (up/down keys), keeping focus in the list if it was there. */
  move(step) {
    const ids = this.visibleIds();
    if (!ids.length) return;
    const index = ids.indexOf(this.selectedId);
    const next = index < 0 ? 0 : Math.max(0, Math.min(ids.length - 1, index + step));
    this.select(ids[next], true);
    if (this.list.contains(document.activeElement)) {
      const button = this.rows.get(ids[next]).querySelector('.q-select');
      if (button) button.focus();
    }
  }

  keydown(event) {
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      event.stopPropagation();
      this.move(event.key === 'ArrowDown' ? 1 : -1);
    } else if (event.key === 'Home' || event.key === 'End') {
      event.preventDefault();
      event.stopPropagation();
      this.move(event.key === 'Home' ? -Infinity : Infinity);
    } else if (event.key === 'Delete' && this.selectedId) {
      event.preventDefault();
      event.stopPropagation();
      call('remove', this.selectedId).then((r) => r.ok || showError(r));
    }
  }

  async clear() {
    const n = this.items.size;
    if (!n) return;
    const ok = await confirmAction(t('queue.clear_confirm', { count: n }), t('queue.clear_ok'));
    if (!ok) return;
    const result = await call('clear');
    if (!result.ok) showError(result);
  }
}

// A thumbnail of a photo not cut out yet means decoding the whole photo in Python: ask
// for two at a time, so opening 200 photos does not decode 200 at once next to the model.
const THUMB_SLOTS = 2;
let thumbsLoading = 0;
const thumbWaiting = [];

function loadThumb(img, src) {
  thumbWaiting.push([img, src]);
  pumpThumbs();
}

function pumpThumbs() {
  while (thumbsLoading < THUMB_SLOTS && thumbWaiting.length) {
    const [img, src] = thumbWaiting.shift();
    if (img.dataset.stale || img.dataset.src !== src) continue; // removed or superseded before its turn
    thumbsLoading += 1;
    const done = () => {
      thumbsLoading -= 1;
      pumpThumbs();
    };
    img.addEventListener('load', done, { once: true });
    img.addEventListener('error', done, { once: true });
    img.src = src;
  }
}

function placeholderThumb() {
  const box = el('span', { class: 'q-thumb placeholder' });
  box.append(icon('photos'));
  return box;
}

function sentence(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Same photo, same state: only its progress moved (see Queue.moveBar). */
function onlyProgress(before, item) {
  return Boolean(before) && before.state === 'working' && item.state === 'working'
    && before.version === item.version && Boolean(before.preview) === Boolean(item.preview)
    && before.name === item.name && before.message === item.message;
}

function progressFill(progress) {
  const fill = el('span', { class: 'bar-fill' });
  fill.style.width = `${Math.round((progress || 0) * 100)}%`;
  return fill;
}

function actionButton(iconName, label, title, run) {
  return el('button', {
    type: 'button',
    class: 'btn',
    'aria-label': label,
    title,
    onclick: async (event) => {
      event.stopPropagation();
      const result = await run();
      if (result && !result.ok) showError(result);
    },
  }, icon(iconName));
}
