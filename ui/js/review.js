// The Review card: approve or reject the photo on screen (A / X), the reject dialog with its
// reasons, the alt text, the photo's history line and "Save review sheet…". After a decision the
// next photo to check opens by itself. Decisions live in Python (app/desktop/reviewing.py); the
// page shows the item it gets back.

import { call, on } from './bridge.js';
import { finished, reviewState } from './filter.js';
import { t } from './i18n.js';
import { errorText } from './messages.js';
import { $, $$, baseName, el, showError, toast } from './ui.js';

export class ReviewPanel {
  constructor(queue) {
    this.queue = queue;
    this.reasons = []; // [{id, label}] from hello()
    this.historyTicket = 0;
    this.rejecting = null; // the id the reject dialog is open for
    this.dialog = $('#reject-dialog');
    $('#approve-btn').addEventListener('click', () => this.approve());
    $('#reject-btn').addEventListener('click', () => this.reject());
    $('#reopen-btn').addEventListener('click', () => this.reopen());
    $('#sheet-btn').addEventListener('click', () => this.saveSheet());
    const alt = $('#alt-text');
    alt.addEventListener('input', () => this.countAlt());
    alt.addEventListener('change', () => this.saveAlt());
    alt.addEventListener('keydown', (event) => {
      if (event.key === 'Enter') alt.blur(); // saves it (change) and gives the keys back to the shortcuts
    });
    $('#reject-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.confirmReject();
    });
    $('#reject-cancel').addEventListener('click', () => this.dialog.close());
    this.dialog.addEventListener('keydown', (event) => this.dialogKeys(event));
    this.dialog.addEventListener('close', () => {
      this.rejecting = null;
    });
    on('export-done', () => this.history(this.queue.selected));
    // A hot folder writes its photos one by one, without an export-done: the photo on screen's line follows.
    on('export', (event) => {
      if (event.state === 'written' && event.id === this.queue.selectedId) this.history(this.queue.selected);
    });
    on('review-sheet', (event) => {
      if (event.error) toast(errorText({ code: event.code, params: event.params, message: event.error }), 'error');
      else toast(t('review.sheet_saved', { name: baseName(event.path) }), 'ok');
    });
  }

  /** From hello(): the reasons to reject and the longest note or alt text. */
  setup(review) {
    this.reasons = (review && review.reasons) || [];
    const max = (review && review.max_note) || 500;
    this.max = max;
    $('#alt-text').maxLength = max;
    $('#reject-note').maxLength = max;
    if (review && review.problem) toast(`${review.problem.charAt(0).toUpperCase()}${review.problem.slice(1)}.`, 'error');
    this.relabel();
  }

  /** The reasons to reject in the window's language (again after it changes). */
  relabel() {
    this.queue.review.reasons = Object.fromEntries(this.reasons.map((r) => [r.id, this.label(r.id)]));
    const checked = $('input[name="reason"]:checked', this.dialog);
    $('#reject-reasons').replaceChildren(...this.reasons.map((reason, i) => el('label', { class: 'reason' },
      el('input', { type: 'radio', name: 'reason', value: reason.id }),
      el('span', { class: 'reason-label', text: this.label(reason.id) }),
      i < 9 ? el('kbd', { text: String(i + 1), 'aria-hidden': 'true' }) : null)));
    if (checked) $(`input[name="reason"][value="${checked.value}"]`, this.dialog).checked = true;
  }

  /** A reason to reject in the window's language (Python's English label for one it does not know). */
  label(id) {
    const reason = this.reasons.find((r) => r.id === id);
    return t(`reason.${id}`, {}, reason ? reason.label : id);
  }

  /** Show the review of `item` (the selected photo, or none). */
  show(item) {
    const ready = finished(item);
    const state = ready ? reviewState(item) : null;
    const review = (item && item.review) || {};
    $('#approve-btn').disabled = !ready;
    $('#reject-btn').disabled = !ready;
    $('#approve-btn').setAttribute('aria-pressed', String(state === 'approved'));
    $('#reject-btn').setAttribute('aria-pressed', String(state === 'rejected'));
    $('#reopen-btn').hidden = !(state === 'approved' || state === 'rejected');
    const badge = $('#review-state');
    badge.dataset.review = state || 'none';
    badge.textContent = state ? t(`review.${state.replace('-', '_')}`) : '';
    const detail = $('#review-detail');
    detail.replaceChildren(...(state && state !== 'to-check' ? this.describe(state, review) : []));
    detail.hidden = !detail.childNodes.length;
    const alt = $('#alt-text');
    alt.disabled = !ready;
    if (document.activeElement !== alt || alt.dataset.id !== (item && item.id)) {
      alt.value = ready ? review.alt_text || '' : '';
      alt.dataset.id = item ? item.id : '';
    }
    this.countAlt();
    $('#sheet-btn').disabled = ![...this.queue.items.values()].some(finished);
    // The history line changes with an export or a decision: asked again when either may have.
    const key = item ? `${item.id}:${ready}:${state}:${review.time || ''}` : '';
    if (key !== this.shownKey) this.history(item);
    this.shownKey = key;
  }

  /** "Halo — grey rim on the left" over "Rejected by mira on 05/12/2026, 10:42". */
  describe(state, review) {
    const lines = [];
    const reason = state === 'rejected' && review.reason ? this.label(review.reason) : '';
    const why = [reason, review.note].filter(Boolean).join(' — ');
    if (why) lines.push(el('span', { class: 'review-why', text: why }));
    const when = review.time ? new Date(review.time) : null;
    const at = when && !Number.isNaN(when.getTime())
      ? when.toLocaleString(document.documentElement.lang || [], { dateStyle: 'short', timeStyle: 'short' }) : '';
    const decided = t(state === 'approved' ? 'review.decided_approved' : 'review.decided_rejected');
    const key = review.reviewer ? (at ? 'review.by' : 'review.by_who') : (at ? 'review.on' : '');
    const text = key ? t(key, { state: decided, reviewer: review.reviewer || '', time: at }) : decided;
    lines.push(el('span', { class: 'review-who', text }));
    return lines;
  }

  countAlt() {
    const alt = $('#alt-text');
    $('#alt-count').textContent = alt.value.length > (this.max || 500) * 0.8 ? t('review.count', { count: alt.value.length, max: this.max }) : '';
  }

  async history(item) {
    const ticket = ++this.historyTicket;
    const line = $('#review-history');
    if (!finished(item)) {
      line.textContent = '';
      return;
    }
    const result = await call('history', item.id);
    if (ticket !== this.historyTicket) return;
    line.textContent = result.ok ? this.historyText(result) : '';
  }

  /** "Exported twice: v1 rejected (halo), v2 approved." from the history's facts. */
  historyText({ exports = [], unaudited = 0 }) {
    const entry = (e) => t('history.entry', {
      label: e.label,
      decision: e.decision === 'rejected' && e.reason
        ? t('history.rejected_reason', { reason: this.label(e.reason) })
        : t(`history.${e.decision.replace('-', '_')}`),
    });
    const list = new Intl.ListFormat(document.documentElement.lang || 'en', { type: 'unit' }).format(exports.map(entry));
    const parts = exports.length ? [t('history.exported', { count: exports.length, list })] : [];
    if (unaudited > 0) parts.push(t('history.unaudited', { count: unaudited }));
    if (!parts.length) parts.push(t('history.none'));
    return parts.join(' ');
  }

  target() {
    const item = this.queue.selected;
    if (finished(item)) return item;
    toast(item ? t('review.not_ready', { name: item.name }) : t('review.select_first'), 'info');
    return null;
  }

  async approve() {
    const item = this.target();
    if (item) await this.decided(item, await call('approve', item.id));
  }

  reject() {
    const item = this.target();
    if (!item) return;
    this.rejecting = item.id;
    $('#reject-title').textContent = t('reject.title_item', { name: item.name });
    const current = item.review && item.review.state === 'rejected' ? item.review : null;
    for (const radio of $$('input[name="reason"]', this.dialog)) radio.checked = Boolean(current) && radio.value === current.reason;
    $('#reject-note').value = current ? current.note || '' : '';
    $('#reject-error').hidden = true;
    this.dialog.showModal();
    const checked = $('input[name="reason"]:checked', this.dialog);
    (checked || $('input[name="reason"]', this.dialog)).focus();
  }

  async confirmReject() {
    const id = this.rejecting;
    const reason = $('input[name="reason"]:checked', this.dialog);
    if (!reason) {
      const error = $('#reject-error');
      error.textContent = t('reject.choose');
      error.hidden = false;
      $('input[name="reason"]', this.dialog).focus();
      return;
    }
    const item = this.queue.items.get(id);
    this.dialog.close();
    if (item) await this.decided(item, await call('reject', id, reason.value, $('#reject-note').value));
  }

  async reopen() {
    const item = this.target();
    if (!item) return;
    const result = await call('reopen', item.id);
    if (!result.ok) return showError(result);
    this.queue.update(result.item);
    this.history(result.item);
  }

  /** After approve / reject: show it, then open the next photo to check. */
  async decided(item, result) {
    if (!result.ok) return showError(result);
    this.queue.update(result.item);
    const next = this.queue.nextToCheck(item.id);
    if (next) this.queue.select(next, true);
    else {
      this.history(result.item);
      toast(t('review.all_checked'), 'ok');
    }
  }

  async saveAlt() {
    const alt = $('#alt-text');
    const item = this.queue.items.get(alt.dataset.id);
    if (!finished(item) || (item.review && item.review.alt_text) === alt.value.trim()) return;
    const result = await call('set_alt_text', item.id, alt.value);
    if (!result.ok) return showError(result, t('review.alt_failed'));
    this.queue.update(result.item);
  }

  async saveSheet() {
    const result = await call('save_review_sheet');
    if (!result.ok) return showError(result, t('review.sheet_failed'));
    if (result.path) toast(t('review.sheet_making'), 'info');
  }

  /** The reject dialog's keys: 1–7 pick a reason, Enter rejects, Tab stays inside (Esc: the dialog's own). */
  dialogKeys(event) {
    const inNote = event.target === $('#reject-note');
    const radios = $$('input[name="reason"]', this.dialog);
    if (!inNote && /^[1-9]$/.test(event.key) && !event.ctrlKey && !event.metaKey && !event.altKey) {
      const radio = radios[Number(event.key) - 1];
      if (radio) {
        event.preventDefault();
        radio.checked = true;
        radio.focus();
      }
    } else if (event.key === 'Enter' && !(event.target instanceof HTMLButtonElement)) {
      event.preventDefault();
      this.confirmReject();
    } else if (event.key === 'Tab') {
      const radioStop = radios.find((r) => r.checked) || radios[0]; // a radio group is one tab stop
      const stops = $$('input, button, select, textarea', this.dialog)
        .filter((node) => !node.disabled && node.offsetParent !== null && (node.type !== 'radio' || node === radioStop));
      if (!stops.length) return;
      const first = stops[0];
      const last = stops[stops.length - 1];
      if (event.shiftKey && document.activeElement === first) {
        event.preventDefault();
        last.focus();
      } else if (!event.shiftKey && document.activeElement === last) {
        event.preventDefault();
        first.focus();
      }
    }
  }
}
