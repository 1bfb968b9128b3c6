// The Export card: preset, file name template (with a live example), output folder,
// "Export this photo" / "Export all finished" / "Export approved", progress from `export` events and the
// result with a button that opens the folder. A delivery-set preset lists the files it
// writes for each photo (each with its own name); a sales channel's rules are said in
// words, with the ones no file check can prove ("not checked").

import { call, on } from './bridge.js';
import { t } from './i18n.js';
import { checksText, errorText, exportNotes, outputLabel, presetDescription, presetLabel } from './messages.js';
import { $, baseName, el, showError, showPath, toast } from './ui.js';

const EXTENSIONS = { png: '.png', jpeg: '.jpg', jpg: '.jpg', webp: '.webp', tiff: '.tif', tif: '.tif', avif: '.avif' };
const FIELDS = ['stem', 'name', 'ext', 'parent', 'preset', 'version']; // {version}: v1, v2… a new file each time

export class ExportPanel {
  constructor(app) {
    this.app = app; // {settings(), locked(), presets, saveSettings(changes), selected()}
    this.run = null; // {total, written, failed}
    this.lastFolder = null;
    this.preset = $('#preset');
    this.template = $('#template');
    this.preset.addEventListener('change', () => {
      this.describe();
      this.example();
      this.app.saveSettings({ preset: this.preset.value }, { quiet: true });
    });
    this.template.addEventListener('input', () => this.example());
    this.template.addEventListener('change', () => {
      if (this.templateError()) return;
      this.app.saveSettings({ template: this.template.value.trim() }, { quiet: true });
    });
    $('#folder-btn').addEventListener('click', () => this.chooseFolder());
    $('#export-one').addEventListener('click', () => this.exportSelected());
    $('#export-all').addEventListener('click', () => this.exportAll());
    $('#export-approved').addEventListener('click', () => this.exportApproved());
    $('#export-reveal').addEventListener('click', async () => {
      if (!this.lastFolder) return;
      const result = await call('open_folder', this.lastFolder);
      if (!result.ok) showError(result);
    });
    on('export', (event) => this.progress(event));
    on('export-done', (event) => this.done(event));
  }

  /** Fill from hello(): presets and the current settings. */
  setPresets(presets) {
    this.presets = presets || [];
    this.preset.replaceChildren(...this.presets.map((p) => el('option', {
      value: p.id,
      // An <option> cannot hold an icon: the lock is spelled out.
      text: p.locked ? t('export.locked_option', { label: presetLabel(p) }) : presetLabel(p),
    })));
    this.applySettings();
  }

  applySettings() {
    const settings = this.app.settings();
    const locked = new Set(this.app.locked());
    if (settings.preset && this.presets.some((p) => p.id === settings.preset)) this.preset.value = settings.preset;
    if (document.activeElement !== this.template) this.template.value = settings.template || '{stem}-{preset}';
    showPath($('#folder-path'), settings.output_dir);
    setLocked(this.preset, locked.has('preset'));
    setLocked(this.template, locked.has('template'));
    setLocked($('#folder-btn'), locked.has('output_dir'));
    this.describe();
    this.example();
  }

  /** The preset and file name pattern chosen here (the hot folder uses them too). */
  choice() {
    const template = this.templateError() ? this.app.settings().template || '{stem}-{preset}' : this.template.value.trim();
    return { preset: this.preset.value, template };
  }

  current() {
    return this.presets.find((p) => p.id === this.preset.value) || null;
  }

  describe() {
    const preset = this.current();
    const desc = $('#preset-desc');
    desc.textContent = preset
      ? [presetDescription(preset), preset.locked ? t('export.locked_desc') : ''].filter(Boolean).join(' ')
      : '';
    const outputs = (preset && preset.outputs) || [];
    $('#preset-outputs').hidden = outputs.length === 0;
    // A set names each of its files itself (listed above): the pattern field does not apply.
    this.template.closest('.field').hidden = outputs.length > 0;
    const channel = $('#preset-channel');
    channel.hidden = !(preset && preset.channel);
    channel.replaceChildren(...(preset && preset.channel ? channelFacts(preset.channel, checksText(preset.checks, preset.check_codes)) : []));
    this.listOutputs();
  }

  /** One row per file of a delivery set: its example name, format, what it is, its channel's rules. */
  listOutputs() {
    const preset = this.current();
    const outputs = (preset && preset.outputs) || [];
    const values = this.values();
    $('#preset-output-list').replaceChildren(...outputs.map((o) => el('li', { class: 'output-item' },
      el('div', { class: 'output-head' },
        el('span', { class: 'output-file', text: fill(o.template, values) + o.extension, title: o.template }),
        el('span', { class: 'output-format', text: o.format })),
      el('span', { class: 'output-label', text: outputLabel(preset, o) }),
      o.channel ? el('div', { class: 'channel-facts' }, ...channelFacts(o.channel, checksText(o.checks, o.check_codes))) : null)));
  }

  /** The file-name fields for the selected photo (or a made-up one). */
  values() {
    const item = this.app.selected();
    const path = item ? item.path : '/Photos/Shoes/red-shoe.jpg';
    const parts = path.split(/[\\/]/);
    const name = parts[parts.length - 1];
    const dot = name.lastIndexOf('.');
    return {
      stem: dot > 0 ? name.slice(0, dot) : name,
      name,
      ext: dot > 0 ? name.slice(dot + 1) : '',
      parent: parts[parts.length - 2] || '',
      preset: this.preset.value || 'preset',
      version: 'v1', // the next free one in the folder when it is written
    };
  }

  templateError() {
    const template = this.template.value.trim();
    if (!template) return t('export.template_empty', { example: '{stem}-{preset}' });
    const unknown = [...template.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1]).filter((f) => !FIELDS.includes(f));
    if (unknown.length) return t('export.template_unknown', { field: `{${unknown[0]}}`, fields: FIELDS.map((f) => `{${f}}`).join(', ') });
    if (/[/\\:*?"<>|]/.test(template.replace(/\{[^{}]*\}/g, ''))) return t('export.template_chars', { chars: '/ \\ : * ? " < > |' });
    return '';
  }

  /** "Example: red-shoe-web.png" for the selected photo (or a made-up one). */
  example() {
    const out = $('#template-example');
    const preset = this.current();
    if (preset && preset.outputs && preset.outputs.length) {
      this.listOutputs(); // a set's files carry their own names
      return;
    }
    const error = this.templateError();
    out.classList.toggle('error-text', Boolean(error));
    if (error) {
      out.textContent = error;
      return;
    }
    const ext = preset ? EXTENSIONS[String(preset.format).toLowerCase()] || `.${preset.format}` : '';
    out.textContent = t('export.example', { name: `${fill(this.template.value.trim(), this.values())}${ext}` });
  }

  async chooseFolder() {
    const result = await call('choose_folder');
    if (!result.ok) return showError(result);
    if (result.path) await this.app.saveSettings({ output_dir: result.path });
  }

  /** Enable the buttons for what can be exported now. */
  refresh() {
    const item = this.app.selected();
    const finished = (i) => i && (i.state === 'done' || i.state === 'flagged');
    const anyDone = [...this.app.items()].some(finished);
    $('#export-one').disabled = !finished(item) || Boolean(this.run);
    $('#export-all').disabled = !anyDone || Boolean(this.run);
    const anyApproved = [...this.app.items()].some((i) => finished(i) && i.review && i.review.state === 'approved');
    $('#export-approved').disabled = !anyApproved || Boolean(this.run);
    this.example();
  }

  exportSelected() {
    const item = this.app.selected();
    if (!item || !(item.state === 'done' || item.state === 'flagged')) {
      toast(item && item.preview ? t('export.still_preview') : t('export.select_first'), 'info');
      return;
    }
    this.start([item.id]);
  }

  exportAll() {
    this.start(null);
  }

  /** Only the photos approved in Review, with the same preset, file name and folder. */
  exportApproved() {
    this.start(null, 'export_approved');
  }

  async start(ids, method = 'export') {
    if (this.run) return;
    const error = this.templateError();
    if (error) {
      toast(error, 'error');
      this.template.focus();
      return;
    }
    const request = { ids, preset: this.preset.value, template: this.template.value.trim(), folder: null };
    const preset = this.current();
    this.run = { total: 0, written: 0, failed: 0, problems: [], perPhoto: (preset && preset.outputs || []).length };
    this.refresh();
    const result = await call(method, request);
    if (!result.ok) {
      this.run = null;
      this.refresh();
      showError(result, t('export.start_failed'));
      return;
    }
    this.run.total = result.queued;
    $('#export-result').hidden = true;
    $('#export-progress').hidden = false;
    this.showProgress();
  }

  showProgress() {
    const run = this.run;
    const finished = run.written + run.failed;
    $('#export-text').textContent = t('export.progress', { current: Math.min(finished + 1, run.total), total: run.total });
    $('#export-bar').style.width = `${run.total ? (finished / run.total) * 100 : 0}%`;
  }

  progress(event) {
    if (!this.run) return; // the hot folder's exports: it has its own counter
    if (event.state === 'written') {
      this.run.written += 1;
      if (event.message) this.run.problems.push(t('stage.failed', { name: event.name, message: exportNotes(event) }));
    } else {
      this.run.failed += 1;
      this.run.problems.push(t('stage.failed', { name: event.name, message: event.message ? errorText(event) : t('export.write_failed') }));
    }
    this.showProgress();
  }

  done(event) {
    if (!this.run) return;
    const run = this.run;
    this.run = null;
    this.lastFolder = event.folder;
    $('#export-progress').hidden = true;
    const box = $('#export-result');
    box.hidden = false;
    box.classList.toggle('failed', event.failed > 0 && event.written === 0);
    const files = (n) => t('export.files', { count: n });
    const folder = baseName(event.folder);
    let text = run.perPhoto
      ? t('export.done_set', { count: event.written, files: files(event.written * run.perPhoto), folder })
      : t('export.done', { count: event.written, folder });
    if (event.failed) text += `. ${t('export.done_failed', { count: event.failed })}`;
    const result = $('#export-result-text');
    result.textContent = text;
    result.title = event.folder || '';
    $('#export-reveal').hidden = event.written === 0;
    box.scrollIntoView({ block: 'nearest' });
    for (const problem of run.problems.slice(0, 3)) toast(problem, 'error');
    this.refresh();
  }
}

function fill(template, values) {
  return template.replace(/\{(\w+)\}/g, (_, key) => values[key] ?? `{${key}}`);
}

/** A channel's rules in words: when and where they were read, what Knockout checks on each file
 * and what it cannot, and the note that channels change their rules. */
function channelFacts(channel, checks = []) {
  const nodes = [];
  if (!channel.confirmed) {
    nodes.push(el('p', { class: 'unconfirmed', text: t('channel.unconfirmed') }));
  }
  const details = el('details', {},
    el('summary', { text: t('channel.rules', { channel: channel.name, date: channel.read_on }) }),
    checks.length ? el('p', { text: t('channel.checked', { checks: checks.join(', ') }) }) : null,
    el('p', { text: t('channel.unchecked') }),
    el('ul', {}, ...channel.unchecked_rules.map((rule) => el('li', { text: rule }))),
    el('p', { text: channel.note }),
    ...channel.sources.map((s) => el('p', { class: 'source', text: t('channel.source', { url: s.url }) })));
  nodes.push(details);
  return nodes;
}

function setLocked(control, locked) {
  control.disabled = locked;
  if (locked) control.title = t('settings.locked');
  else if (control.title === t('settings.locked')) control.title = '';
}
