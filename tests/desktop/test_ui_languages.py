"""The window in other languages, in headless Chromium against the real page and js_api: the browser's
language and the Language setting choose it, IT can pin it, Python's flags and errors are said in it,
plurals and numbers follow it, and no text overflows its control in German, also at 200 % zoom.
Screenshots land in test-artifacts/ (lang-*.png) for a human look."""

from __future__ import annotations

import pytest
from PIL import Image

from app.governance.policy import Policy
from tests.desktop.test_ui import UI, _private_dirs, browser  # noqa: F401  (fixtures used by name)
from tests.fakes import photo
from tests.ui_harness import screenshot

pytestmark = pytest.mark.ui

# Controls and labels whose text must fit: text wider than its element (scrollWidth beyond clientWidth),
# or an element sticking out of the card, panel or dialog it sits in. A file name or folder path cut with
# an ellipsis on purpose does not count, nor the colour swatch (a clipped circle by design).
OVERFLOWING = """() => [...document.querySelectorAll(
    'button, label, legend, summary, h1, h2, h3, p, kbd, .field-label, .hint, .q-state, .q-review,'
    + ' .review-badge, .status-item, .filter, .filter-label, .output-label, .lock-note, .toast, .banner')]
  .filter((e) => e.offsetParent !== null && getComputedStyle(e).textOverflow !== 'ellipsis' && !e.closest('.swatch'))
  .filter((e) => {
    const box = e.getBoundingClientRect();
    const home = e.parentElement.closest(
      '.card, .panel, .dialog-body, .empty-card, .q-item, .review-filter, .statusbar');
    const outer = home ? home.getBoundingClientRect() : null;
    return e.scrollWidth > e.clientWidth + 1
      || (outer && (box.right > outer.right + 1 || box.left < outer.left - 1));
  })
  .map((e) => `${e.tagName.toLowerCase()}#${e.id || e.className}: ${e.textContent.trim().slice(0, 40)}`)"""


def overflowing(page) -> list[str]:
    return page.evaluate(OVERFLOWING)


def _photos(tmp_path, names=("schuh", "tasse")) -> list:
    paths = []
    for name in names:
        photo(tmp_path / f"{name}.jpg", size=(400, 300))
        paths.append(tmp_path / f"{name}.jpg")
    cut_off = Image.new("RGB", (400, 300), (20, 30, 40))
    cut_off.paste((230, 200, 180), (100, 80, 300, 300))  # runs off the bottom edge: flagged
    cut_off.save(tmp_path / "angeschnitten.jpg")
    (tmp_path / "kaputt.jpg").write_bytes(b"this is not a picture")
    return [*paths, tmp_path / "angeschnitten.jpg", tmp_path / "kaputt.jpg"]


@pytest.fixture
def ui(browser, tmp_path):  # noqa: F811
    harness = UI(browser, tmp_path)
    yield harness
    harness.close()


@pytest.fixture
def german(browser, tmp_path):  # noqa: F811
    harness = UI(browser, tmp_path, locale="de-DE")
    yield harness
    harness.close()


def test_the_window_speaks_the_browsers_language_german_with_flags_errors_and_counts(german, tmp_path):
    page = german.page
    assert page.evaluate("document.documentElement.lang") == "de"
    assert page.inner_text("#empty h1") == "Fotos hierher ziehen"
    assert page.get_attribute("#settings-btn", "aria-label") == "Einstellungen"
    screenshot(page, "lang-de-01-empty")
    german.open(*_photos(tmp_path))
    german.wait_text("#overall-text", r"^3 von 4 fertig · 1 markiert, 1 fehlgeschlagen$")
    flagged = page.locator('.q-item[data-state="flagged"]')
    assert "Fertig, bitte prüfen" in flagged.inner_text()
    assert "Das Motiv berührt den unteren Rand des Fotos" in flagged.inner_text()  # qa's flag, by its code
    failed = page.locator('.q-item[data-state="failed"]')
    assert "Freistellen fehlgeschlagen" in failed.inner_text()
    retry = page.get_attribute('.q-item[data-state="failed"] .q-actions button', "aria-label")
    assert retry == "kaputt.jpg erneut versuchen"
    page.locator(".q-select", has_text="angeschnitten.jpg").click()
    german.wait_text("#stage-message", "Das Motiv berührt den unteren Rand")
    german.wait_text("#review-history", "Noch nicht exportiert.")
    assert overflowing(page) == []
    screenshot(page, "lang-de-02-queue")

    # An error from Python, by its code: the toast is German, the English message only the fallback.
    german.backend.hub.publish({"type": "error", "code": "out_of_memory", "message": "not enough memory"})
    german.wait_text("#toasts", "Nicht genug Arbeitsspeicher für dieses Bild.")
    result = page.evaluate("import('/js/bridge.js').then(m => m.call('document', 'd999'))")
    page.evaluate("(r) => import('/js/ui.js').then(m => m.showError(r))", result)
    german.wait_text("#toasts", "Es ist nicht mehr da")

    # The export card with a delivery set, and the shortcuts list.
    page.select_option("#preset", "marketplace-kit")
    page.wait_for_selector("#preset-outputs:not([hidden])")
    assert page.inner_text("#preset-outputs-title") == "Dateien pro Foto"
    assert page.locator(".output-label").nth(1).inner_text() == "Amazon-Hauptbild (JPEG auf Weiß)"
    amazon = page.locator(".output-item").nth(1)
    assert amazon.locator("summary").inner_text().startswith("Regeln von Amazon")
    amazon.locator("summary").click()
    checked = "Bei jeder Datei geprüft: Hintergrund reinweiß, Motiv füllt mindestens 85\u00a0% des Bildes"
    assert checked in amazon.inner_text()
    assert overflowing(page) == []
    screenshot(page, "lang-de-03-export-set")
    page.keyboard.press("?")
    page.wait_for_selector("#help-dialog", state="visible")
    assert "Maske zeigen" in page.inner_text("#help-list") and "Entf" in page.inner_text("#help-list")
    assert overflowing(page) == []
    screenshot(page, "lang-de-04-shortcuts")
    page.keyboard.press("Escape")


def test_the_review_card_and_the_reject_dialog_in_german(german, tmp_path):
    page = german.page
    photo(tmp_path / "schuh.jpg", size=(400, 300))
    german.open(tmp_path / "schuh.jpg")
    german.wait_text("#overall-text", r"^1 von 1 fertig")
    page.click("#viewport")
    page.keyboard.press("x")
    page.wait_for_selector("#reject-dialog", state="visible")
    assert page.inner_text("#reject-title") == "schuh.jpg ablehnen"
    assert "Lichthof (Halo)" in page.inner_text("#reject-reasons")
    page.click("#reject-ok")
    german.wait_text("#reject-error", "Wählen Sie, was am Freisteller falsch ist.")
    assert overflowing(page) == []
    screenshot(page, "lang-de-05-reject-dialog")
    page.keyboard.press("1")
    page.fill("#reject-note", "grauer Rand am linken Ärmel")
    page.click("#reject-ok")
    german.wait_text("#review-state", "^Abge\u00ad?lehnt$")
    german.wait_text("#review-detail", "Lichthof \\(Halo\\) — grauer Rand am linken Ärmel")
    german.wait_text(".q-review", "Abgelehnt: Lichthof")
    assert overflowing(page) == []
    screenshot(page, "lang-de-06-review-card")


def test_the_language_setting_switches_to_french_and_is_kept(ui):
    page = ui.page
    assert page.evaluate("document.documentElement.lang") == "en"
    page.click("#settings-btn")
    options = page.eval_on_selector_all("#set-language option", "os => os.map(o => o.textContent)")
    assert options == ["Same as my computer (English)", "English", "Deutsch", "Français", "Español",
                       "Italiano", "Nederlands", "Polski"]
    page.select_option("#set-language", "fr")
    page.click("#settings-save")
    page.wait_for_function("document.documentElement.lang === 'fr'")
    assert ui.backend.api.get_settings()["settings"]["language"] == "fr"
    assert page.inner_text("#empty h1") == "Déposez des photos ici"
    assert page.inner_text("#export-one") == "Exporter cette photo"
    page.click("#settings-btn")
    assert page.inner_text("#settings-title") == "Réglages"
    assert page.input_value("#set-language") == "fr"
    assert overflowing(page) == []
    screenshot(page, "lang-fr-01-settings")
    page.click("#settings-cancel")
    page.reload()  # saved in Python, not the browser: a new page starts in French
    page.wait_for_function("document.documentElement.dataset.ready === 'true'")
    assert page.evaluate("document.documentElement.lang") == "fr"
    assert page.inner_text("#overall-text") == "Pas encore de photos"


def test_french_from_the_browser_with_a_queue_and_export(browser, tmp_path):  # noqa: F811
    ui = UI(browser, tmp_path, locale="fr-CA")  # a region: its base language
    try:
        page = ui.page
        assert page.evaluate("document.documentElement.lang") == "fr"
        ui.open(*_photos(tmp_path, ("chaussure", "tasse")))
        ui.wait_text("#overall-text", r"^3 sur 4 terminées · 1 signalée, 1 en échec$")
        assert "Le sujet touche le bord bas de la photo" in page.inner_text('.q-item[data-state="flagged"]')
        assert page.locator("#preset option:checked").inner_text() == "PNG transparent (fichier maître)"
        assert page.inner_text("#preset-desc").startswith("Détourage en pleine taille avec transparence")
        out = tmp_path / "sortie"
        ui.backend.shell.folder = str(out)
        page.click("#folder-btn")
        page.wait_for_function("document.querySelector('#folder-path').title.endsWith('/sortie')")
        page.click("#export-all")
        ui.wait_text("#export-result-text", "^3 fichiers exportés vers « sortie »")
        assert overflowing(page) == []
        screenshot(page, "lang-fr-02-exported")
    finally:
        ui.close()


def test_it_policy_pins_the_language_and_the_setting_shows_it_locked(browser, tmp_path):  # noqa: F811
    ui = UI(browser, tmp_path, policy=Policy(lock=("language",), settings={"language": "pl"}), locale="de-DE")
    try:
        page = ui.page
        page.wait_for_function("document.documentElement.lang === 'pl'")
        assert page.inner_text("#empty h1") == "Upuść tu zdjęcia"
        # text made by scripts before the pinned language arrived is made again in it
        assert page.locator("#preset option:checked").inner_text() == "Przezroczysty PNG (master)"
        assert page.inner_text("#help-list").startswith("Zdjęcia")
        page.click("#settings-btn")
        assert page.is_disabled("#set-language")
        assert page.locator('[data-key="language"] .lock-note').inner_text() == "Ustawione przez dział IT"
        screenshot(page, "lang-pl-01-settings-locked")
        page.click("#settings-save")
        assert ui.backend.api.get_settings()["settings"]["language"] == "pl"
    finally:
        ui.close()


@pytest.mark.parametrize(("locale", "lang"), [("de-AT", "de"), ("pt-BR", "en"), ("nl-BE", "nl")])
def test_a_region_falls_back_to_its_language_and_an_unknown_one_to_english(browser, tmp_path, locale, lang):  # noqa: F811
    ui = UI(browser, tmp_path, locale=locale)
    try:
        assert ui.page.evaluate("document.documentElement.lang") == lang
    finally:
        ui.close()


def test_plurals_and_numbers_follow_the_language(ui):
    said = ui.page.evaluate("""async () => {
        const i18n = await import('/js/i18n.js');
        const out = {};
        await i18n.setLanguage('de');
        out.de = [i18n.t('queue.done_of', { done: 19, total: 50 }),
                  i18n.t('queue.done_of', { done: 1234, total: 5000 }), i18n.percent(0.42),
                  i18n.t('export.files', { count: 1 }), i18n.t('export.files', { count: 3 })];
        await i18n.setLanguage('pl');
        out.pl = [1, 2, 5, 22, 25].map((count) => i18n.t('export.files', { count }));
        await i18n.setLanguage('fr');
        out.fr = [i18n.t('queue.done_of', { done: 1234, total: 5000 }), i18n.t('export.files', { count: 1000000 })];
        await i18n.setLanguage('en');
        out.unknown = [i18n.t('no.such.key', {}, 'Fallback'), i18n.pickLanguage('auto', ['pt-BR', 'it-CH'])];
        return out;
    }""")
    assert said["de"] == ["19 von 50 fertig", "1.234 von 5.000 fertig", "42\u00a0%", "1 Datei", "3 Dateien"]
    assert said["pl"] == ["1 plik", "2 pliki", "5 plików", "22 pliki", "25 plików"]
    assert said["fr"] == ["1\u202f234 sur 5\u202f000 terminées", "1\u202f000\u202f000 de fichiers"]
    assert said["unknown"] == ["Fallback", "it"]


def test_german_at_200_percent_zoom_keeps_every_text_inside_its_control(browser, tmp_path):  # noqa: F811
    # 200 %: half the CSS pixels of the usual window, each drawn twice as large
    ui = UI(browser, tmp_path, locale="de-DE", device_scale_factor=2)
    try:
        page = ui.page
        page.set_viewport_size({"width": 640, "height": 400})
        ui.open(*_photos(tmp_path))
        ui.wait_text("#overall-text", r"^3 von 4 fertig")
        assert overflowing(page) == []
        screenshot(page, "lang-de-07-zoom-200")
        page.click("#settings-btn")
        assert overflowing(page) == []
        screenshot(page, "lang-de-08-zoom-200-settings")
    finally:
        ui.close()
