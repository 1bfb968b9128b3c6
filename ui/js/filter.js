// The queue's review filter: All / To check / Approved / Rejected with live counts, which rows it
// shows, each finished photo's decision as a pill, and which photo is the next one to check.

import { t } from './i18n.js';
import { $, $$, el } from './ui.js';

const reviewText = (state) => t(`review.${state.replace('-', '_')}`);

export const finished = (item) => Boolean(item) && (item.state === 'done' || item.state === 'flagged');
/** A photo without a decision (however far its cutout got) is to check. */
export const reviewState = (item) => (item.review && item.review.state) || 'to-check';

export class ReviewFilter {
  /** `onChange()` runs when the person picks another filter. */
  constructor(onChange) {
    this.value = 'all';
    this.reasons = {}; // reason id -> label (hello().review.reasons)
    for (const button of $$('#review-filter [data-filter]')) {
      button.addEventListener('click', () => {
        this.value = button.dataset.filter;
        for (const other of $$('#review-filter [data-filter]')) {
          other.setAttribute('aria-checked', String(other === button));
        }
        onChange();
      });
    }
  }

  /** Does the list show `item` under the current filter? */
  shows(item) {
    return this.value === 'all' || reviewState(item) === this.value;
  }

  /** The photo's decision as a pill: "Approved", "Rejected: Halo", "To check" (the note in its tooltip). */
  badge(item) {
    const state = reviewState(item);
    const reason = state === 'rejected' && item.review.reason ? this.reasons[item.review.reason] || item.review.reason : '';
    const text = reason ? t('review.rejected_reason', { reason }) : reviewText(state);
    const note = item.review && item.review.note ? ` — ${item.review.note}` : '';
    return el('span', { class: 'q-review', 'data-review': state, text, title: `${text}${note}` });
  }

  /** Live counts on the filter buttons (with the words, for screen readers). */
  count(items) {
    const counts = { all: 0, 'to-check': 0, approved: 0, rejected: 0 };
    for (const item of items) {
      counts.all += 1;
      counts[reviewState(item)] += 1;
    }
    for (const button of $$('#review-filter [data-filter]')) {
      const key = button.dataset.filter;
      $('.filter-count', button).textContent = String(counts[key]);
      button.setAttribute('aria-label', t('filter.count', { label: $('.filter-label', button).textContent, count: counts[key] }));
    }
    const empty = $('#filter-empty');
    empty.hidden = this.value === 'all' || counts[this.value] > 0 || counts.all === 0;
    empty.textContent = this.value === 'all' ? '' : t(`filter.empty_${this.value.replace('-', '_')}`);
  }

  /** The next photo to check after `fromId` among `shown` (in list order, wrapping around),
   * leaving out photos that failed or were stopped; null when none is left. */
  nextToCheck(shown, fromId) {
    const start = shown.findIndex((item) => item.id === fromId);
    for (let step = 1; step <= shown.length; step += 1) {
      const item = shown[(start + step + shown.length) % shown.length];
      if (item.id !== fromId && reviewState(item) === 'to-check' && !['failed', 'cancelled'].includes(item.state)) {
        return item.id;
      }
    }
    return null;
  }
}
