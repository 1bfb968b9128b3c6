// Every keyboard shortcut in one table: the key handler and the "?" overlay both read
// it, so the help can never drift from what the keys really do.

import { $, el, typingTarget } from './ui.js';

const isMac = /Mac|iPhone|iPad/.test(navigator.platform || '');
const MOD = isMac ? '⌘' : 'Ctrl';

/**
 * keys: what the help shows; test(e): does this keydown match; run(a, e): the action.
 * `text: true` means it also works while typing in a text field.
 */
function table() {
  const ctrl = (e) => e.ctrlKey || e.metaKey;
  const plain = (e) => !e.ctrlKey && !e.metaKey && !e.altKey;
  return [
    ['Photos', [
      { keys: [`${MOD}+O`], label: 'Open photos', text: true, test: (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === 'o', run: (a) => a.open() },
      { keys: [`${MOD}+V`], label: 'Paste an image', help: true },
      { keys: ['↑', '↓'], label: 'Previous / next photo', test: (e) => plain(e) && (e.key === 'ArrowUp' || e.key === 'ArrowDown') && !a11yFocusInViewer(e), run: (a, e) => a.move(e.key === 'ArrowDown' ? 1 : -1) },
      { keys: ['Delete'], label: 'Remove the photo from the list (list focused)', help: true },
    ]],
    ['View', [
      { keys: ['O'], label: 'Hold to see the original', test: (e) => plain(e) && e.key.toLowerCase() === 'o', run: (a, e) => a.holdOriginal(true, e) },
      { keys: ['C'], label: 'Before / after compare', test: (e) => plain(e) && e.key.toLowerCase() === 'c', run: (a) => a.toggleCompare() },
      { keys: ['M'], label: 'Show the mask', test: (e) => plain(e) && e.key.toLowerCase() === 'm', run: (a) => a.toggleMask() },
      { keys: ['0', 'F'], label: 'Fit in window', test: (e) => plain(e) && (e.key === '0' || e.key.toLowerCase() === 'f'), run: (a) => a.viewer.fit() },
      { keys: ['1'], label: 'Actual pixels (100 %)', test: (e) => plain(e) && e.key === '1', run: (a) => a.viewer.actualSize() },
      { keys: ['+', '−'], label: 'Zoom in / out', test: (e) => !e.altKey && ['+', '=', '-', '_'].includes(e.key), run: (a, e) => a.viewer.zoomBy(['+', '='].includes(e.key) ? 1.25 : 0.8) },
      { keys: [`${MOD}+scroll`, 'scroll'], label: 'Zoom at the pointer', help: true },
      { keys: ['Space + drag'], label: 'Move the photo (any tool)', help: true },
      { keys: ['←', '→', '↑', '↓'], label: 'Move the photo (photo focused)', help: true },
    ]],
    ['Touch up', [
      { keys: ['H'], label: 'Move tool', test: (e) => plain(e) && e.key.toLowerCase() === 'h', run: (a) => a.brush.setTool('hand') },
      { keys: ['E'], label: 'Erase brush', test: (e) => plain(e) && e.key.toLowerCase() === 'e', run: (a) => a.brush.setTool('erase') },
      { keys: ['R'], label: 'Restore brush', test: (e) => plain(e) && e.key.toLowerCase() === 'r', run: (a) => a.brush.setTool('restore') },
      { keys: ['B'], label: 'Switch Erase / Restore', test: (e) => plain(e) && e.key.toLowerCase() === 'b', run: (a) => a.brush.toggle() },
      { keys: ['[', ']'], label: 'Smaller / bigger brush', test: (e) => plain(e) && (e.key === '[' || e.key === ']'), run: (a, e) => a.brush.grow(e.key === ']' ? 1 : -1) },
      { keys: [`${MOD}+Z`], label: 'Undo', test: (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === 'z', run: (a) => a.brush.history('undo') },
      { keys: [`${MOD}+Shift+Z`, `${MOD}+Y`], label: 'Redo', test: (e) => ctrl(e) && ((e.shiftKey && e.key.toLowerCase() === 'z') || (!e.shiftKey && e.key.toLowerCase() === 'y')), run: (a) => a.brush.history('redo') },
      { keys: ['Tab'], label: 'Reset mask, Punch holes, Recover parts: buttons under the brush', help: true },
    ]],
    ['Review', [
      { keys: ['A'], label: 'Approve the cutout, then the next to check', test: (e) => plain(e) && e.key.toLowerCase() === 'a', run: (a) => a.review.approve() },
      { keys: ['X'], label: 'Reject the cutout with a reason…', test: (e) => plain(e) && e.key.toLowerCase() === 'x', run: (a) => a.review.reject() },
      { keys: ['J', 'K'], label: 'Next / previous photo', test: (e) => plain(e) && ['j', 'k'].includes(e.key.toLowerCase()), run: (a, e) => a.move(e.key.toLowerCase() === 'j' ? 1 : -1) },
      { keys: ['1…7', '↑', '↓'], label: 'Pick a reason (reject dialog)', help: true },
    ]],
    ['Export and more', [
      { keys: [`${MOD}+S`], label: 'Export this photo', text: true, test: (e) => ctrl(e) && !e.shiftKey && e.key.toLowerCase() === 's', run: (a) => a.exporter.exportSelected() },
      { keys: [`${MOD}+Shift+S`], label: 'Export all finished photos', text: true, test: (e) => ctrl(e) && e.shiftKey && e.key.toLowerCase() === 's', run: (a) => a.exporter.exportAll() },
      { keys: [`${MOD}+,`], label: 'Settings', text: true, test: (e) => ctrl(e) && e.key === ',', run: (a) => a.settings.open() },
      { keys: ['?'], label: 'This list of shortcuts', test: (e) => e.key === '?', run: (a) => a.help() },
      { keys: ['Esc'], label: 'Close a dialog', help: true },
      { keys: ['Tab', 'Shift+Tab'], label: 'Next / previous button or field', help: true },
      { keys: ['Enter', 'Space'], label: 'Press the focused button', help: true },
    ]],
  ];
}

function a11yFocusInViewer(e) {
  return e.target instanceof Element && Boolean(e.target.closest('#viewport, .queue-list'));
}

export function installShortcuts(actions) {
  const groups = table();
  const all = groups.flatMap(([, list]) => list).filter((s) => s.test);

  window.addEventListener('keydown', (e) => {
    if (e.defaultPrevented) return;
    if (document.querySelector('dialog[open]')) return; // dialogs keep their own keys (Esc closes)
    // Arrow keys with the photo focused pan it.
    if (e.target instanceof Element && e.target.id === 'viewport' && e.key.startsWith('Arrow')) {
      const step = e.shiftKey ? 200 : 50;
      const d = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] }[e.key];
      e.preventDefault();
      actions.viewer.panBy(d[0], d[1]);
      return;
    }
    // Space held = temporary Move tool, unless it would press a focused button.
    if (e.key === ' ' && !typingTarget(e.target) && !(e.target instanceof HTMLButtonElement)) {
      e.preventDefault();
      actions.viewer.spaceHeld = true;
      actions.viewer.viewport.classList.add('panning-ready');
      return;
    }
    const typing = typingTarget(e.target);
    // Arrow keys belong to the focused slider, select or divider, not to the shortcuts.
    const ownsArrows = e.target instanceof Element && Boolean(e.target.closest('input, select, textarea, [role="slider"]'));
    if (ownsArrows && /^(Arrow|Home|End|Page)/.test(e.key)) return;
    for (const shortcut of all) {
      if ((typing && !shortcut.text) || !shortcut.test(e)) continue;
      if (e.repeat && shortcut.label.startsWith('Hold')) {
        e.preventDefault();
        return;
      }
      e.preventDefault();
      shortcut.run(actions, e);
      return;
    }
  });
  window.addEventListener('keyup', (e) => {
    if (e.key === ' ') {
      actions.viewer.spaceHeld = false;
      actions.viewer.viewport.classList.remove('panning-ready');
    }
    if (e.key.toLowerCase() === 'o') actions.holdOriginal(false, e);
  });
  // Letting go of O while the window lost focus must not leave the original stuck on.
  window.addEventListener('blur', () => {
    actions.holdOriginal(false);
    actions.viewer.spaceHeld = false;
  });

  renderHelp(groups);
}

function renderHelp(groups) {
  const list = $('#help-list');
  list.replaceChildren();
  for (const [title, shortcuts] of groups) {
    list.append(el('h3', { text: title }));
    for (const s of shortcuts) {
      list.append(el('div', { class: 'help-row' },
        el('span', { text: s.label }),
        el('span', { class: 'keys' }, ...s.keys.map((k) => el('kbd', { text: k })))));
    }
  }
}
