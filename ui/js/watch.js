// Hot folder: watch a folder; every photo saved into it is cut out and exported with a
// preset (api.watch_start / watch_stop, progress as `watch` events). While it runs, the
// toolbar button and the status bar say so, with a Stop button.

import { call, on } from './bridge.js';
import { t } from './i18n.js';
import { errorText, presetLabel } from './messages.js';
import { $, baseName, el, showError, showPath, toast } from './ui.js';

export class HotFolder {
  constructor(app) {
    this.app = app; // {settings(), presets(), exportChoice(): {preset, template}}
    this.watch = null;
    this.inbox = null;
    this.folder = null;
    this.dialog = $('#watch-dialog');
    $('#watch-btn').addEventListener('click', () => this.open());
    $('#watch-cancel').addEventListener('click', () => this.dialog.close());
    $('#watch-stop').addEventListener('click', () => this.stop());
    $('#status-watch-stop').addEventListener('click', () => this.stop());
    $('#watch-inbox-btn').addEventListener('click', () => this.choose('inbox'));
    $('#watch-out-btn').addEventListener('click', () => this.choose('folder'));
    $('#watch-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.start();
    });
    on('watch', (event) => {
      this.set(event.watch);
      // watching stopped by itself (e.g. the folder is gone)
      if (event.error) toast(errorText({ code: event.code, params: event.params, message: event.error }), 'error');
    });
    // A file in the watched folder that is not read (a pipe, a link to a file outside the folder…).
    on('watch-skipped', (event) => toast(t('watch.skipped', { name: event.name, message: errorText(event).replace(/\.?$/, '.') }), 'error'));
  }

  /** Show the hot folder state (null = not watching). */
  set(watch) {
    this.watch = watch || null;
    const active = Boolean(this.watch);
    const name = active ? baseName(this.watch.inbox) : '';
    $('#watch-btn').setAttribute('aria-pressed', String(active));
    $('#watch-btn-text').textContent = active ? t('watch.watching', { name }) : t('watch.button');
    $('#status-watch').hidden = !active;
    if (active) {
      const { written = 0, failed = 0, skipped = 0 } = this.watch;
      let text = `${t('watch.watching', { name })} · ${t('watch.exported', { count: written })}`;
      if (failed) text += ` · ${t('watch.failed', { count: failed })}`;
      if (skipped) text += ` · ${t('watch.skipped_count', { count: skipped })}`;
      $('#status-watch-text').textContent = text;
      $('#status-watch-text').title = `${this.watch.inbox} → ${this.watch.folder}`;
    }
    if (this.dialog.open) this.fill();
  }

  async open() {
    this.fill();
    $('#watch-error').hidden = true;
    this.dialog.showModal();
    (this.watch ? $('#watch-stop') : $('#watch-inbox-btn')).focus();
  }

  fill() {
    const watch = this.watch;
    const settings = this.app.settings();
    const choice = this.app.exportChoice();
    const presets = this.app.presets();
    const select = $('#watch-preset');
    const current = watch ? watch.preset : select.value || choice.preset;
    select.replaceChildren(...presets.map((p) => el('option', {
      value: p.id,
      text: p.locked ? t('export.locked_option', { label: presetLabel(p) }) : presetLabel(p),
    })));
    if (current) select.value = current;
    showPath($('#watch-inbox'), watch ? watch.inbox : this.inbox);
    showPath($('#watch-out'), watch ? watch.folder : this.folder || settings.output_dir);
    $('#watch-template-note').textContent = t('watch.template_note', { template: choice.template });
    $('#watch-active').hidden = !watch;
    if (watch) {
      const counts = [t('watch.exported', { count: watch.written || 0 })];
      if (watch.failed) counts.push(t('watch.failed', { count: watch.failed }));
      $('#watch-active-text').textContent = t('watch.active', { counts: counts.join(', ') });
    }
    for (const control of [select, $('#watch-inbox-btn'), $('#watch-out-btn')]) control.disabled = Boolean(watch);
    $('#watch-start').hidden = Boolean(watch);
    $('#watch-stop').hidden = !watch;
  }

  async choose(which) {
    const result = await call('choose_folder');
    if (!result.ok) return showError(result);
    if (!result.path) return;
    this[which] = result.path;
    $('#watch-error').hidden = true;
    this.fill();
  }

  async start() {
    const error = $('#watch-error');
    if (!this.inbox) {
      error.textContent = t('watch.choose_first');
      error.hidden = false;
      return;
    }
    const choice = this.app.exportChoice();
    const request = {
      inbox: this.inbox,
      folder: this.folder || this.app.settings().output_dir,
      preset: $('#watch-preset').value,
      template: choice.template,
    };
    const result = await call('watch_start', request);
    if (!result.ok) {
      error.textContent = errorText(result.error);
      error.hidden = false;
      return;
    }
    this.set(result.watch);
    this.dialog.close();
    toast(t('watch.started', { name: baseName(this.inbox) }), 'ok');
  }

  async stop() {
    const result = await call('watch_stop');
    if (!result.ok) return showError(result);
    this.set(null);
    toast(t('watch.stopped'), 'info');
  }
}

