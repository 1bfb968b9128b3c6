// Start-up and wiring: hello() -> token, settings, presets; the event stream; and the
// glue between the queue, the editor, the brushes, export and settings.

import { call, connectEvents, on, pasteImage, setToken } from './bridge.js';
import { Brush } from './brush.js';
import { ExportPanel } from './export.js';
import { Queue } from './queue.js';
import { ReviewPanel } from './review.js';
import { SettingsDialog, applyTheme } from './settings.js';
import { installShortcuts } from './shortcuts.js';
import { errorText, flagText } from './messages.js';
import { $, $$, announce, banner, baseName, dialogFocus, radioGroupKeys, showError, toast } from './ui.js';
import { onLanguage, percent, pickLanguage, setLanguage, t } from './i18n.js';
import { Viewer } from './viewer.js';
import { HotFolder } from './watch.js';

const state = {
  settings: {},
  locked: [],
  presets: [],
  models: [],
  status: null,
  docRequest: 0,
};

const viewer = new Viewer({
  viewport: $('#viewport'),
  backdrop: $('#backdrop'),
  under: $('#layer-under'),
  main: $('#layer-main'),
  overlay: $('#overlay'),
  divider: $('#divider'),
  handle: $('#divider-handle'),
});

const queue = new Queue({
  onSelect: (item) => showItem(item),
  onChange: (item, before) => itemChanged(item, before),
});

const review = new ReviewPanel(queue);

const brush = new Brush(viewer, {
  onEdited: (docId, result) => {
    // The thumbnail follows the edit (its URL carries the version).
    const item = queue.items.get(docId);
    if (item) queue.update({ ...item, version: result.version });
  },
});

const app = {
  settings: () => state.settings,
  locked: () => state.locked,
  models: () => state.models,
  osLocale: () => state.osLocale || '',
  items: () => queue.items.values(),
  selected: () => queue.selected,
  setSettings(settings, locked) {
    state.settings = settings || {};
    state.locked = locked || [];
    applyTheme(state.settings.theme);
    applyLanguage();
    exporter.applySettings();
  },
  async saveSettings(changes, { quiet = false } = {}) {
    const locked = new Set(state.locked);
    const allowed = Object.fromEntries(Object.entries(changes).filter(([key]) => !locked.has(key)));
    if (!Object.keys(allowed).length) return { ok: true };
    const result = await call('set_settings', allowed);
    if (result.ok) app.setSettings(result.settings, result.locked);
    else if (!quiet) showError(result, t('settings.save_failed'));
    return result;
  },
};

const exporter = new ExportPanel(app);
const settingsDialog = new SettingsDialog(app);
const hotFolder = new HotFolder({
  settings: () => state.settings,
  presets: () => state.presets,
  exportChoice: () => exporter.choice(),
});

/** The language the settings ask for ("auto": the one the system prefers, then the OS locale
 * Python read); loaded only when it changes. */
function applyLanguage() {
  const preferred = [...(navigator.languages || [navigator.language]), state.osLocale || ''];
  const wanted = pickLanguage(state.settings.language || 'auto', preferred);
  if (wanted === state.language) return;
  state.language = wanted;
  state.languageLoaded = setLanguage(wanted);
}

function versionText() {
  $('#status-version').textContent = state.version ? t('common.version', { version: state.version }) : '';
}

// ---- the editor follows the selection ------------------------------------------
async function showItem(item) {
  const ticket = ++state.docRequest;
  exporter.refresh();
  review.show(item);
  updateEmpty();
  call('focus', item ? item.id : null); // the photo on screen gets its first look and full answer first
  previewBadge(item);
  photoLabel(item);
  if (!item) {
    viewer.setDocument(null);
    stageMessage('');
    brush.setEditState(null);
    brush.refreshButtons();
    return;
  }
  if (item.state === 'done' || item.state === 'flagged' || item.preview) {
    const doc = await call('document', item.id);
    if (ticket !== state.docRequest) return; // the user moved on meanwhile
    if (!doc.ok) {
      showError(doc);
      return;
    }
    viewer.setDocument({ id: doc.id, width: doc.width, height: doc.height, levels: doc.levels, tile: doc.tile, version: doc.version, preview: doc.preview });
    brush.setEditState(doc);
    stageMessage(item.state === 'flagged' ? (item.flags || []).map(flagText).join(' · ') : '', 'warn');
    if (item.state === 'flagged') announce($('#stage-message').textContent);
  } else {
    // Not cut out yet: show the photo itself while waiting (if it can be read at all).
    if (item.state !== 'failed' && item.width && item.height) {
      viewer.setDocument({ id: item.id, width: item.width, height: item.height, levels: 1, tile: 512, version: item.version, placeholder: true });
    } else {
      viewer.setDocument(null);
    }
    brush.setEditState(null);
    stageMessage(placeholderText(item), item.state === 'failed' ? 'error' : '');
    if (item.state === 'failed' || item.state === 'cancelled') announce(placeholderText(item));
  }
  brush.refreshButtons();
}

function placeholderText(item) {
  if (item.state === 'failed') {
    return item.message ? t('stage.failed', { name: item.name, message: errorText(item) }) : t('stage.failed_plain', { name: item.name });
  }
  if (item.state === 'cancelled') return t('stage.cancelled', { name: item.name });
  if (item.state === 'working') return t('stage.working', { name: item.name, percent: percent(item.progress) });
  return t('stage.waiting', { name: item.name });
}

/** The photo on screen is an image to screen readers: its alt text (Review), else its name. */
function photoLabel(item) {
  const layer = $('#layer-main');
  const text = item && ((item.review && item.review.alt_text) || item.name);
  if (text) {
    layer.setAttribute('role', 'img');
    layer.setAttribute('aria-label', text);
  } else {
    layer.removeAttribute('role');
    layer.removeAttribute('aria-label');
  }
}

/** "Preview — refining…" over the canvas while the mask shown is the quick first look. */
function previewBadge(item) {
  const badge = $('#preview-badge');
  badge.hidden = !(item && item.preview);
  if (badge.hidden) return;
  badge.textContent = item.state === 'working'
    ? t('stage.preview_working', { percent: percent(item.progress) })
    : t('stage.preview_soon');
}

function stageMessage(text, kind = '') {
  const box = $('#stage-message');
  box.textContent = text;
  box.className = `stage-message ${kind}`;
  box.hidden = !text;
  // The photo starts below the message instead of hiding under it.
  $('#viewport').style.top = text ? `${box.offsetHeight}px` : '0px';
}

function itemChanged(item, before) {
  exporter.refresh();
  if (item.id === queue.selectedId) review.show(item);
  updateEmpty();
  // However a photo arrived (Open, drop, paste, a second launch), show the first one.
  if (!before && !queue.selectedId) {
    queue.select(item.id);
    return;
  }
  if (item.id !== queue.selectedId) return;
  previewBadge(item);
  photoLabel(item);
  const finishedNow = (item.state === 'done' || item.state === 'flagged');
  const changedState = !before || before.state !== item.state || Boolean(before.preview) !== Boolean(item.preview);
  if (changedState && (finishedNow || item.preview)) viewer.prefetch(item.id, item.version); // a first look, a full answer
  if (changedState || (!viewer.ready && before && before.width !== item.width)) {
    showItem(item);
  } else if (finishedNow && viewer.ready && item.version !== viewer.doc.version && !brush.stroke) {
    // Changed elsewhere (e.g. a retry finished): reload the document state.
    showItem(item);
  } else if (!finishedNow && !item.preview) {
    stageMessage(placeholderText(item), item.state === 'failed' ? 'error' : '');
  }
}

function updateEmpty() {
  $('#empty').hidden = queue.items.size > 0;
}

// ---- toolbar --------------------------------------------------------------------
async function openPhotos() {
  const result = await call('open_dialog');
  if (!result.ok) return showError(result);
  reportOpen(result.added.map((item) => item.id), result.errors);
}

function reportOpen(ids, errors = []) {
  for (const error of errors.slice(0, 3)) toast(t('stage.failed', { name: baseName(error.path), message: errorText(error) }), 'error');
  if (errors.length > 3) toast(t('open.more_errors', { count: errors.length - 3 }), 'error');
  if (ids && ids.length && !queue.selectedId) queue.select(ids[0]);
}


function setPressed(id, on) {
  $(id).setAttribute('aria-pressed', String(on));
}

function syncViewButtons() {
  setPressed('#view-original', viewer.showOriginal || viewer.holdOriginal);
  setPressed('#view-compare', viewer.compare);
  setPressed('#view-mask', viewer.view === 'mask');
}

const actions = {
  viewer,
  brush,
  exporter,
  review,
  settings: settingsDialog,
  open: openPhotos,
  move: (step) => queue.move(step),
  help() {
    $('#help-dialog').showModal();
    $('#help-close').focus();
  },
  holdOriginal(on) {
    viewer.setHoldOriginal(on);
    syncViewButtons();
  },
  toggleCompare() {
    viewer.showOriginal = false;
    viewer.setCompare(!viewer.compare);
    syncViewButtons();
  },
  toggleMask() {
    viewer.showOriginal = false;
    viewer.setView(viewer.view === 'mask' ? 'cutout' : 'mask');
    syncViewButtons();
  },
};

function wireToolbar() {
  $('#open-btn').addEventListener('click', openPhotos);
  $('#empty-open').addEventListener('click', openPhotos);
  $('#view-original').addEventListener('click', () => {
    viewer.compare = false;
    viewer.setShowOriginal(!viewer.showOriginal);
    syncViewButtons();
  });
  $('#view-compare').addEventListener('click', actions.toggleCompare);
  $('#view-mask').addEventListener('click', actions.toggleMask);
  for (const swatch of $$('[data-bg]')) {
    swatch.addEventListener('click', () => setBackground(swatch.dataset.bg));
  }
  $('#bg-color').addEventListener('input', () => setBackground('custom', $('#bg-color').value));
  $('#zoom-in').addEventListener('click', () => viewer.zoomBy(1.25));
  $('#zoom-out').addEventListener('click', () => viewer.zoomBy(0.8));
  $('#zoom-fit').addEventListener('click', () => viewer.fit());
  $('#zoom-100').addEventListener('click', () => viewer.actualSize());
  $('#help-btn').addEventListener('click', actions.help);
  $('#help-close').addEventListener('click', () => $('#help-dialog').close());
  $('#banner-close').addEventListener('click', () => banner(''));
  viewer.onChange(() => {
    $('#zoom-level').textContent = viewer.doc ? percent(viewer.zoom * viewer.dpr) : '–';
    for (const id of ['#zoom-in', '#zoom-out', '#zoom-fit', '#zoom-100', '#view-original', '#view-compare', '#view-mask']) {
      $(id).disabled = !viewer.doc;
    }
    $('#view-compare').disabled = !viewer.ready;
    $('#view-mask').disabled = !viewer.ready;
  });
}

function setBackground(kind, color) {
  for (const swatch of $$('[data-bg]')) swatch.setAttribute('aria-checked', String(swatch.dataset.bg === kind));
  $('.swatch-custom').classList.toggle('checked', kind === 'custom');
  viewer.setBackground(kind, color);
}

// ---- getting images in: drop overlay and paste --------------------------------
function wireDropAndPaste() {
  let depth = 0;
  const overlay = $('#drop-overlay');
  const hasFiles = (e) => e.dataTransfer && Array.from(e.dataTransfer.types || []).includes('Files');
  window.addEventListener('dragenter', (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth += 1;
    overlay.hidden = false;
  });
  window.addEventListener('dragover', (e) => {
    e.preventDefault(); // or the window navigates to the dropped file
    if (hasFiles(e)) {
      e.dataTransfer.dropEffect = 'copy';
      overlay.hidden = false;
    }
  });
  window.addEventListener('dragleave', (e) => {
    depth = Math.max(0, depth - 1);
    if (depth === 0 || !e.relatedTarget) overlay.hidden = true;
  });
  // Capture phase: the window's native drop handler stops the drop from bubbling.
  window.addEventListener('drop', (e) => {
    // The files themselves reach Python through that handler (then an "opened" event).
    e.preventDefault();
    depth = 0;
    overlay.hidden = true;
  }, true);

  document.addEventListener('paste', async (e) => {
    if (e.target instanceof Element && e.target.closest('input[type="text"]')) return;
    const files = Array.from((e.clipboardData && e.clipboardData.files) || []).filter((f) => f.type.startsWith('image/'));
    if (!files.length) {
      const items = Array.from((e.clipboardData && e.clipboardData.items) || []);
      for (const item of items) {
        if (item.kind === 'file' && item.type.startsWith('image/')) files.push(item.getAsFile());
      }
    }
    if (!files.length) {
      toast(t('paste.empty'), 'info');
      return;
    }
    e.preventDefault();
    for (const file of files) {
      const ext = (file.type.split('/')[1] || 'png').replace('jpeg', 'jpg');
      const name = file.name && file.name !== 'image.png' ? file.name : `pasted.${ext}`;
      const result = await pasteImage(file, name);
      if (!result.ok) showError(result, t('paste.failed'));
      else reportOpen(result.ids);
    }
  });
}

// ---- status bar -----------------------------------------------------------------
/** Why this model, in the window's language when Python sent a code for it. */
function noteText(status) {
  return status.note_code ? t(`status.note_${status.note_code}`) : status.note;
}

function showStatus(status) {
  state.status = status || {};
  const ready = $('#status-ready');
  if (status && status.error) {
    ready.textContent = t('status.unavailable');
    ready.className = 'status-item failed';
    banner(errorText({ code: status.error_code, params: status.error_params, message: status.error }));
    state.statusBanner = true;
  } else if (status && status.ready) {
    ready.textContent = t('status.ready');
    ready.className = 'status-item ready';
    if (state.statusBanner) banner('');
    state.statusBanner = false;
  } else {
    ready.textContent = t('status.warming');
    ready.className = 'status-item warming';
  }
  $('#status-provider').textContent = (status && status.provider) || '';
  // "· fastest on this CPU": the default's variant measured fastest here stands in for it
  $('#status-model').textContent = status && status.model
    ? t(status.note ? 'status.model_note' : 'status.model', { model: status.model, note: noteText(status) }) : '';
  $('#status-offline').hidden = !(status && status.offline !== false);
  versionText();
}

// ---- events -----------------------------------------------------------------------
function wireEvents() {
  on('status', (e) => showStatus(e.status));
  on('item', (e) => queue.update(e.item, e.summary));
  on('removed', (e) => queue.remove(e.id, e.summary));
  on('opened', (e) => reportOpen(e.ids));
  on('export', (e) => e.state === 'written' && queue.markExported(e.id));
  on('error', (e) => toast(e.message ? errorText(e) : t('error.generic'), 'error'));
}

async function resync() {
  const snapshot = await call('queue');
  if (snapshot.ok) queue.load(snapshot.items, snapshot.summary);
  const status = await call('status');
  if (status.ok) {
    showStatus(status.status);
    hotFolder.set(status.watch || null);
  }
}

async function start() {
  wireToolbar();
  radioGroupKeys();
  dialogFocus();
  wireDropAndPaste();
  installShortcuts(actions);
  updateEmpty();
  viewer.changed();
  // Outside the app window nothing ever answers: say so instead of showing a dead page.
  // The system's language at once (the page's words before hello() answers); then the setting's.
  state.language = pickLanguage('auto', navigator.languages || [navigator.language]);
  await setLanguage(state.language);
  const slow = setTimeout(() => banner(t('start.slow')), 15000);
  const hello = await call('hello');
  clearTimeout(slow);
  banner('');
  if (!hello.ok) {
    banner(errorText(hello.error));
    return;
  }
  setToken(hello.token);
  state.osLocale = hello.locale || '';
  state.presets = hello.presets || [];
  state.models = hello.models || [];
  state.version = hello.version || '';
  exporter.setPresets(state.presets);
  review.setup(hello.review);
  onLanguage(() => {
    // Text made by code is made again in the new language (also the settings' first choice, next).
    exporter.setPresets(state.presets);
    review.relabel();
    showStatus(state.status);
    queue.relabel();
    if (queue.selected) showItem(queue.selected);
  });
  app.setSettings(hello.settings, hello.locked);
  await state.languageLoaded;
  showStatus(hello.status);
  wireEvents();
  connectEvents(resync); // first, so nothing happening during the snapshot is missed
  await resync();
  if (!queue.selectedId && queue.items.size) queue.select(queue.items.keys().next().value);
  document.documentElement.dataset.ready = 'true';
}

start();
