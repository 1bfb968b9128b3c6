// The Settings dialog (gear button, Ctrl+,) and the theme. Settings live in Python
// (api.get_settings / api.set_settings): nothing is kept in browser storage.

import { call, on } from './bridge.js';
import { LANGUAGES, LANGUAGE_NAMES, pickLanguage, t } from './i18n.js';
import { errorText } from './messages.js';
import { $, $$, el, showError, showPath, toast } from './ui.js';

// Cutout quality switches: setting key -> checkbox (all on by default, like the command line).
const CHECKS = {
  refine_edges: '#set-refine-edges',
  remove_specks: '#set-remove-specks',
  auto_recover_parts: '#set-auto-recover',
  decontaminate: '#set-decontaminate',
};

export function applyTheme(theme) {
  document.documentElement.dataset.theme = ['light', 'dark'].includes(theme) ? theme : 'system';
}

export class SettingsDialog {
  constructor(app) {
    this.app = app; // {settings(), locked(), models, saveSettings(changes)}
    this.dialog = $('#settings-dialog');
    this.pendingFolder = null;
    $('#settings-btn').addEventListener('click', () => this.open());
    $('#settings-cancel').addEventListener('click', () => this.dialog.close());
    $('#set-output-btn').addEventListener('click', async () => {
      const result = await call('choose_folder');
      if (!result.ok) return showError(result);
      if (result.path) {
        this.pendingFolder = result.path;
        showPath($('#set-output'), result.path);
      }
    });
    $('#settings-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.save();
    });
    // Preview the theme while choosing; Cancel puts the saved one back.
    $('#set-theme').addEventListener('change', () => applyTheme($('#set-theme').value));
    this.dialog.addEventListener('close', () => applyTheme(this.app.settings().theme));
    this.bindSupport();
  }

  /** "For IT support": the diagnostics report (arrives as an event) and Clear cache. */
  bindSupport() {
    $('#diag-run').addEventListener('click', async () => {
      const result = await call('diagnostics');
      if (!result.ok) return showError(result);
      $('#diag-run').disabled = true;
      $('#diag-status').textContent = t('support.creating');
    });
    on('diagnostics', (event) => {
      $('#diag-run').disabled = false;
      $('#diag-save').disabled = false;
      $('#diag-status').textContent = t('support.ready');
      const report = $('#diag-report');
      report.value = event.report || '';
      report.hidden = false;
    });
    $('#diag-save').addEventListener('click', async () => {
      const result = await call('save_diagnostics');
      if (!result.ok) return showError(result);
      if (result.path) $('#diag-status').textContent = t('support.saved', { path: result.path });
    });
    $('#cache-clear').addEventListener('click', async () => {
      const result = await call('clear_cache');
      if (!result.ok) return showError(result);
      const n = result.removed || 0;
      toast(n ? t('support.cache_cleared', { count: n }) : t('support.cache_empty'), 'ok');
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  async open() {
    if (this.dialog.open || this.opening) return; // Ctrl+, pressed twice
    this.opening = true;
    try {
      await this.show();
    } finally {
      this.opening = false;
    }
  }

  async show() {
    const fresh = await call('get_settings');
    if (fresh.ok) this.app.setSettings(fresh.settings, fresh.locked);
    const settings = this.app.settings();
    const locked = new Set(this.app.locked());
    const models = this.app.models();
    const model = $('#set-model');
    model.replaceChildren(...models.map((m) => el('option', { value: m.id, text: m.label })));
    if (settings.model && !models.some((m) => m.id === settings.model)) {
      model.append(el('option', { value: settings.model, text: settings.model }));
    }
    model.value = settings.model || (models[0] && models[0].id) || '';
    $('#set-device').value = settings.device || 'auto';
    $('#set-theme').value = settings.theme || 'system';
    this.fillLanguages(settings.language);
    $('#set-views').value = String(settings.views === 1 ? 1 : 2);
    showPath($('#set-output'), settings.output_dir);
    for (const [key, selector] of Object.entries(CHECKS)) $(selector).checked = settings[key] !== false;
    this.pendingFolder = null;
    for (const field of $$('[data-key]', this.dialog)) {
      const isLocked = locked.has(field.dataset.key);
      field.classList.toggle('locked', isLocked);
      $('.lock-note', field).hidden = !isLocked;
      for (const control of $$('select, input, button', field)) control.disabled = isLocked;
    }
    $('#settings-error').hidden = true;
    this.dialog.showModal();
    const first = $$('select:not(:disabled), button:not(:disabled)', this.dialog)[0];
    if (first) first.focus();
  }

  /** Auto (naming the language it gives on this computer) and each language in its own words. */
  fillLanguages(value) {
    const system = pickLanguage('auto', [...(navigator.languages || [navigator.language]), this.app.osLocale()]);
    const select = $('#set-language');
    select.replaceChildren(
      el('option', { value: 'auto', text: t('settings.language_auto', { language: LANGUAGE_NAMES[system] }) }),
      ...LANGUAGES.map((code) => el('option', { value: code, lang: code, text: LANGUAGE_NAMES[code] })));
    select.value = LANGUAGES.includes(value) ? value : 'auto';
  }

  async save() {
    const settings = this.app.settings();
    const locked = new Set(this.app.locked());
    const wanted = {
      model: $('#set-model').value,
      device: $('#set-device').value,
      theme: $('#set-theme').value,
      language: $('#set-language').value,
      views: Number($('#set-views').value),
      output_dir: this.pendingFolder || settings.output_dir,
    };
    for (const [key, selector] of Object.entries(CHECKS)) wanted[key] = $(selector).checked;
    const changes = {};
    for (const [key, value] of Object.entries(wanted)) {
      const given = typeof value === 'boolean' || Boolean(value); // a switch may be off; a text must not be empty
      if (!locked.has(key) && given && value !== settings[key]) changes[key] = value;
    }
    if (Object.keys(changes).length) {
      const result = await this.app.saveSettings(changes, { quiet: true });
      if (!result.ok) {
        $('#settings-error').textContent = errorText(result.error);
        $('#settings-error').hidden = false;
        return;
      }
    }
    this.dialog.close();
  }
}
