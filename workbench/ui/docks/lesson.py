"""Lessons in the window: the Lessons menu, the start page, the Lesson dock beside the picture,
and classroom mode.

A lesson (workbench/course/lessons.py: a preset file) is applied by `LessonController.open`: it
puts its recipe into the window state and starts training where that is the point, configures
the GAN lab, the Dirac-GAN view or the experiment view, brings its panel forward (through the
panel registry: ui/panels/registry.py says which pages and options each panel takes) and shows
the explanation in the Lesson dock. Classroom mode hides the controls the lesson does not need;
the teacher picks them with a checkbox per control and may save the choice into a copy of the
preset.
"""

from __future__ import annotations

import html
from dataclasses import asdict

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QDockWidget, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QMenu, QMessageBox, QPushButton,
                               QSplitter, QTextBrowser, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from workbench.core.applog import log
from workbench.core.config import fields_of
from workbench.core.errors import WorkbenchError
from workbench.course.lessons import CONTROLS, load_catalogue, save_classroom, user_lessons_dir
from workbench.ui.panels.runs_panel import apply_recipe

SHOW_START_KEY = "lessons/show_start_page"
CLASSROOM_KEY = "lessons/classroom"


def lesson_html(lesson) -> str:
    """The lesson's text as rich text: title, explanation, formula, what to look at."""
    parts = [f"<h3 style='margin:0 0 6px 0'>{html.escape(lesson.label)}</h3>",
             f"<p style='color:#555;margin:0 0 8px 0'>{html.escape(lesson.part)}</p>",
             f"<p>{html.escape(lesson.explanation)}</p>"]
    if lesson.formula:
        parts.append("<table width='100%' cellpadding='6' style='background:#f1f3f6'><tr><td>"
                     f"<span style='font-family:serif;font-size:11pt'>"
                     f"{html.escape(lesson.formula)}</span></td></tr></table>")
    if lesson.look:
        parts.append(f"<p><b>What to look at.</b> {html.escape(lesson.look)}</p>")
    return "".join(parts)


# == the lesson panel (a dock beside the picture) =================================================
class LessonPanel(QWidget):
    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.text = QTextBrowser()
        self.text.setObjectName("lesson_text")
        self.text.setOpenExternalLinks(False)
        self.text.setHtml("<p style='color:#666'>No lesson open. Choose one from the "
                          "<b>Lessons</b> menu, or open the start page (Lessons → Start page…)."
                          "</p>")
        lay.addWidget(self.text, 1)
        row = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setToolTip("The previous lesson (Alt+Left)")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Set the lesson up again from its preset and start over")
        self.next_button = QPushButton("Next ▶")
        self.next_button.setToolTip("The next lesson (Alt+Right)")
        for b in (self.prev_button, self.restart_button, self.next_button):
            row.addWidget(b)
            b.setEnabled(False)
        self.prev_button.clicked.connect(lambda: controller.step(-1))
        self.next_button.clicked.connect(lambda: controller.step(+1))
        self.restart_button.clicked.connect(controller.restart)
        lay.addLayout(row)
        self.classroom_check = QCheckBox("Classroom mode")
        self.classroom_check.setToolTip(
            "Hide every control this lesson does not need (Lessons → Choose classroom "
            "controls… picks them), for a focused view to hand out")
        lay.addWidget(self.classroom_check)

    def show_lesson(self, lesson, has_prev: bool, has_next: bool) -> None:
        self.text.setHtml(lesson_html(lesson))
        self.prev_button.setEnabled(has_prev)
        self.next_button.setEnabled(has_next)
        self.restart_button.setEnabled(True)


# == the start page ===============================================================================
class StartPage(QDialog):
    """Every lesson by part, its text beside the list; Open starts the chosen one."""

    def __init__(self, catalogue, settings, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Welcome to genworkbench")
        self.setObjectName("start_page")
        self.resize(980, 580)
        self.chosen = None
        lay = QVBoxLayout(self)
        intro = QLabel(
            "<h2 style='margin:0'>Learn by watching models learn</h2>"
            "<p>Each lesson sets up a model, its data and the picture that explains one idea, "
            "and starts it. Pick one, or close this page to explore on your own — the "
            "<b>Lessons</b> menu has them all.</p>")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        split = QSplitter(Qt.Orientation.Horizontal)
        self.tree = QTreeWidget()
        self.tree.setObjectName("lesson_tree")
        self.tree.setHeaderHidden(True)
        for part, lessons in catalogue.parts():
            top = QTreeWidgetItem([part])
            top.setFlags(top.flags() & ~Qt.ItemFlag.ItemIsSelectable)
            f = top.font(0)
            f.setBold(True)
            top.setFont(0, f)
            for lesson in lessons:
                item = QTreeWidgetItem([lesson.label])
                item.setData(0, Qt.ItemDataRole.UserRole, lesson.name)
                item.setToolTip(0, lesson.explanation)
                top.addChild(item)
            self.tree.addTopLevelItem(top)
        self.tree.expandAll()
        self.text = QTextBrowser()
        split.addWidget(self.tree)
        split.addWidget(self.text)
        split.setSizes([470, 510])
        lay.addWidget(split, 1)
        self.catalogue = catalogue
        self.tree.currentItemChanged.connect(self._on_item)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self._open(item))
        bottom = QHBoxLayout()
        self.show_check = QCheckBox("Show this page when genworkbench starts")
        self.show_check.setChecked(str(settings.value(SHOW_START_KEY, "true")).lower() == "true")
        self.show_check.toggled.connect(
            lambda on: settings.setValue(SHOW_START_KEY, "true" if on else "false"))
        bottom.addWidget(self.show_check)
        bottom.addStretch(1)
        buttons = QDialogButtonBox()
        self.open_button = buttons.addButton("Open lesson", QDialogButtonBox.ButtonRole.AcceptRole)
        self.open_button.setEnabled(False)
        buttons.addButton("Explore on my own", QDialogButtonBox.ButtonRole.RejectRole)
        buttons.accepted.connect(lambda: self._open(self.tree.currentItem()))
        buttons.rejected.connect(self.reject)
        bottom.addWidget(buttons)
        lay.addLayout(bottom)
        first = self.tree.topLevelItem(0)
        if first is not None and first.childCount():
            self.tree.setCurrentItem(first.child(0))
        if catalogue.problems:
            self.text.append("<p style='color:#a00'>Some lesson files could not be read:<br>"
                             + "<br>".join(html.escape(p) for p in catalogue.problems) + "</p>")

    def _on_item(self, item, _prev=None) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        self.open_button.setEnabled(name is not None)
        if name is not None:
            self.text.setHtml(lesson_html(self.catalogue.get(name)))

    def _open(self, item) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if name is None:
            return
        self.chosen = name
        self.accept()


# == classroom controls ===========================================================================
class ClassroomDialog(QDialog):
    """A checkbox per control: ticked controls stay visible in classroom mode."""

    def __init__(self, lesson, hidden: tuple[str, ...], fields=None, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Classroom controls: {lesson.title}")
        lay = QVBoxLayout(self)
        note = QLabel("Ticked controls stay visible in classroom mode for this lesson. "
                      "<i>Save into the lesson</i> writes the choice into your copy of the "
                      "preset, so it is there next time and in files you hand out.")
        note.setWordWrap(True)
        lay.addWidget(note)
        self.checks: dict[str, QCheckBox] = {}
        for key, text in CONTROLS.items():
            c = QCheckBox(text)
            c.setObjectName(f"control:{key}")
            c.setChecked(key not in hidden)
            lay.addWidget(c)
            self.checks[key] = c
        # the model's config fields, one checkbox each (only for a lesson that trains)
        self.field_checks: dict[str, QCheckBox] = {}
        if lesson.train is not None:
            box = QGroupBox(f"Fields of the {lesson.train.model} config form")
            grid = QGridLayout(box)
            for i, spec in enumerate(fields_of(lesson.train.model_config())):
                c = QCheckBox(spec.label)
                c.setObjectName(f"field:{spec.name}")
                c.setChecked(fields is None or spec.name in fields)
                grid.addWidget(c, i // 3, i % 3)
                self.field_checks[spec.name] = c
            lay.addWidget(box)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel)
        self.save_button = buttons.addButton("Save into the lesson",
                                             QDialogButtonBox.ButtonRole.ApplyRole)
        self.save = False
        self.save_button.clicked.connect(self._save)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)

    def _save(self) -> None:
        self.save = True
        self.accept()

    def hidden(self) -> list[str]:
        return [k for k, c in self.checks.items() if not c.isChecked()]

    def fields(self) -> list[str] | None:
        """The ticked config fields, or None when all are (or the lesson trains nothing)."""
        names = [k for k, c in self.field_checks.items() if c.isChecked()]
        return None if len(names) == len(self.field_checks) else names


# == the controller ===============================================================================
class LessonController:
    """Owns the catalogue, the Lessons menu, the Lesson dock and classroom mode of a window.

    It sets lessons up through the window state, the training session, the centre's panels
    (PanelTabs) and the Setup dock; `show_control(key, visible)` shows or hides one control of
    CONTROLS (the window knows which widget each key names)."""

    def __init__(self, window, state, session, panels, setup, show_control):
        self.w = window  # the parent of the dock and dialogs, and fitted to a narrow screen
        self.state, self.session, self.panels, self.setup = state, session, panels, setup
        self.show_control = show_control
        self.catalogue = None
        self.current = None
        self.hidden: tuple[str, ...] = ()  # this session's classroom choice for `current`
        self.fields = None  # the config fields classroom mode shows (None: all)
        self.panel = LessonPanel(self)
        self.dock = QDockWidget("Lesson", window)
        self.dock.setObjectName("lesson_dock")
        self.dock.setWidget(self.panel)
        self.dock.setMinimumWidth(240)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock)
        self.dock.hide()  # until a lesson opens
        self.menu = None
        self._pending = None
        self.act_classroom = QAction("&Classroom mode", window)
        self.act_classroom.setCheckable(True)
        self.act_classroom.setShortcut(QKeySequence("Ctrl+Shift+K"))
        self.act_classroom.setStatusTip("Hide the controls the open lesson does not need")
        self.act_classroom.setChecked(
            str(state.settings.value(CLASSROOM_KEY, "false")).lower() == "true")
        self.act_classroom.toggled.connect(self.set_classroom)
        self.panel.classroom_check.setChecked(self.act_classroom.isChecked())
        self.panel.classroom_check.toggled.connect(self.act_classroom.setChecked)

    # -- catalogue and menu ---------------------------------------------------------------------
    def load(self):
        self.catalogue = load_catalogue()
        return self.catalogue

    def build_menu(self, menubar, before=None):
        self.menu = menubar.addMenu("&Lessons") if before is None else None
        if self.menu is None:
            self.menu = QMenu("&Lessons", self.w)
            menubar.insertMenu(before, self.menu)
        self.menu.setToolTipsVisible(True)
        self.menu.aboutToShow.connect(self._fill_menu_once)
        self._filled = False
        return self.menu

    def _fill_menu_once(self) -> None:
        if not self._filled:
            self.fill_menu()

    def fill_menu(self) -> None:
        """(Re)build the menu: start page, one submenu per part, classroom actions."""
        m = self.menu
        m.clear()
        cat = self.load()
        a = m.addAction("&Start page…", self.show_start_page)
        a.setStatusTip("Every lesson with its explanation; open one")
        m.addSeparator()
        for part, lessons in cat.parts():
            sub = m.addMenu(part)
            sub.setToolTipsVisible(True)
            for lesson in lessons:
                act = sub.addAction(lesson.label)
                act.setToolTip(lesson.explanation)
                act.setStatusTip(lesson.explanation)
                act.triggered.connect(lambda _=False, n=lesson.name: self.open(n))
        if cat.problems:
            bad = m.addAction(f"{len(cat.problems)} lesson file(s) could not be read…")
            bad.triggered.connect(lambda: QMessageBox.warning(
                self.w, "Lesson files", "\n\n".join(cat.problems)))
        m.addSeparator()
        nav = (("&Previous lesson", "Alt+Left", lambda: self.step(-1)),
               ("&Next lesson", "Alt+Right", lambda: self.step(+1)),
               ("&Restart lesson", None, self.restart))
        for text, key, slot in nav:
            act = m.addAction(text, slot)
            if key:
                act.setShortcut(QKeySequence(key))
        m.addSeparator()
        m.addAction(self.act_classroom)
        m.addAction("Choose classroom &controls…", self.customise_classroom)
        m.addAction("Open my lessons &folder", self._open_user_folder)
        self._filled = True

    def _open_user_folder(self) -> None:
        folder = user_lessons_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    # -- start page -----------------------------------------------------------------------------
    def maybe_show_start_page(self) -> None:
        if str(self.state.settings.value(SHOW_START_KEY, "true")).lower() == "true":
            self.show_start_page()

    def show_start_page(self) -> StartPage:
        page = StartPage(self.catalogue or self.load(), self.state.settings, self.w)
        page.finished.connect(lambda _r: page.chosen and self.open(page.chosen))
        page.open()  # window-modal, non-blocking: the event loop keeps running
        self.start_page = page
        return page

    # -- opening --------------------------------------------------------------------------------
    def open(self, name: str, confirm: bool = True) -> bool:
        """Set the window up for the lesson NAME (or number). When training runs, ask first
        (unless confirm=False), stop it, and open the lesson once it has stopped."""
        try:
            lesson = (self.catalogue or self.load()).get(name)
        except WorkbenchError as e:
            QMessageBox.warning(self.w, "Lessons", str(e))
            return False
        if self.session.running:
            if confirm and QMessageBox.question(
                    self.w, "Open lesson",
                    f"Training is running. Stop it (a checkpoint is saved) and open "
                    f"“{lesson.title}”?") != QMessageBox.StandardButton.Yes:
                return False
            self.session.stop()
            self._pending = lesson
            self._wait_for_stop()
            return True
        return self._apply(lesson)

    def _wait_for_stop(self) -> None:
        if self.session.running or self.session.runner is not None:
            QTimer.singleShot(100, self._wait_for_stop)
        elif self._pending is not None:
            lesson, self._pending = self._pending, None
            self._apply(lesson)

    def step(self, delta: int) -> None:
        if self.current is None or self.catalogue is None:
            return
        nxt = self.catalogue.neighbour(self.current, delta)
        if nxt is not None:
            self.open(nxt.name)

    def restart(self) -> None:
        if self.current is not None:
            self.open(self.current.name)

    def _apply(self, lesson) -> bool:
        w, st = self.w, self.state
        notes: list[str] = []
        try:
            if lesson.train is not None:
                notes += apply_recipe(st, lesson.train)
            if lesson.lab is not None:
                self._apply_lab(lesson.lab)
            if lesson.dirac is not None:
                self._apply_dirac(lesson.dirac)
            if lesson.experiment is not None:
                page = self.panels.panel("experiment")
                page.choose(lesson.experiment["name"], lesson.experiment["params"])
                if lesson.experiment.get("run", True):
                    page.view.run()
        except WorkbenchError as e:
            QMessageBox.warning(w, "Cannot open the lesson", f"{lesson.label}: {e}")
            return False
        self.current = lesson
        self.hidden = lesson.hidden_controls()
        self.fields = lesson.fields
        self.panels.show_panel(lesson.view)
        self._apply_panel(lesson)
        has_prev = self.catalogue.neighbour(lesson, -1) is not None
        has_next = self.catalogue.neighbour(lesson, +1) is not None
        self.panel.show_lesson(lesson, has_prev, has_next)
        if not self.dock.isVisible():
            self.dock.show()
            QTimer.singleShot(0, self._fit_screen)
        self.apply_classroom()
        st.settings.setValue("lessons/last", lesson.name)
        log.info("lesson opened: %s (%s)", lesson.label, lesson.source or lesson.name)
        if lesson.train is not None and lesson.start and not self.session.running:
            self.session.start()
        text = f"Lesson {lesson.label}"
        if lesson.train is not None and not lesson.start:
            text += ": press Train to start."
        st.show_status(text + "".join(f" Note: {n}." for n in notes))
        return True

    def _fit_screen(self) -> None:
        """On a narrow screen the lesson panel shares the left dock area with Setup (as a tab)
        instead of pushing the window wider than the screen."""
        screen = self.w.screen()
        if screen is None or self.dock.isFloating():
            return
        avail = screen.availableGeometry()
        if self.w.frameGeometry().width() > avail.width() and self.setup.isVisible():
            self.w.tabifyDockWidget(self.setup, self.dock)
            self.dock.raise_()
            # after the layout has taken the dock back: shrink to the screen
            QTimer.singleShot(0, lambda: self.w.resize(
                avail.width() - (self.w.frameGeometry().width() - self.w.width()),
                self.w.height()))

    def _apply_lab(self, lab: dict) -> None:
        # function-local: the registry imports torch, loaded after the window paints
        from workbench.models.registry import get_config

        panel = self.panels.panel("gan_lab")
        panel.pause()
        panel.seed_spin.setValue(int(lab["seed"]))
        panel.reset(int(lab["seed"]), lab["dataset"], lab["model"])
        # every field from the preset or the model's default: a previous lesson's live changes
        # must not leak into this one
        full = asdict(get_config(lab["model"]))
        full.update({k: tuple(v) if isinstance(v, list) else v for k, v in lab["config"].items()})
        panel.set_config(**full)
        panel.reset(int(lab["seed"]))  # fresh weights for the final recipe, step 0
        if lab.get("play", True):
            panel.play()

    def _apply_dirac(self, p: dict) -> None:
        d = self.panels.panel("dirac")
        d.select(loss=p["loss"], reg=None if p["reg"] == "none" else p["reg"])
        if "gamma" in p:
            d.gamma_slider.setValue(round(float(p["gamma"]) * 100))
        if "sigma" in p:
            d.sigma_slider.setValue(round(float(p["sigma"]) * 100))
        if "lr" in p:
            d.lr_spin.setValue(float(p["lr"]))
        if "d_steps" in p:
            d.dsteps_spin.setValue(int(p["d_steps"]))
        if "steps" in p:
            d.steps_spin.setValue(int(p["steps"]))
        theta, psi = p.get("start", [1.0, 1.0])
        d.set_start(float(theta), float(psi))
        d.recompute()

    def _apply_panel(self, lesson) -> None:
        """The lesson's [panel] options, for a panel the registry says takes them."""
        entry = self.panels.entries[lesson.view]
        if lesson.panel and (entry.pages or entry.options):
            self.panels.panel(lesson.view).apply_lesson(lesson.panel)

    # -- classroom mode -------------------------------------------------------------------------
    def set_classroom(self, on: bool) -> None:
        self.state.settings.setValue(CLASSROOM_KEY, "true" if on else "false")
        self.panel.classroom_check.blockSignals(True)
        self.panel.classroom_check.setChecked(on)
        self.panel.classroom_check.blockSignals(False)
        self.apply_classroom()

    def classroom_on(self) -> bool:
        return self.act_classroom.isChecked() and self.current is not None

    def apply_classroom(self) -> None:
        """Show or hide every control in CONTROLS for the current lesson."""
        on = self.classroom_on()
        hidden = set(self.hidden) if on else set()
        for key in CONTROLS:
            self.show_control(key, key not in hidden)
        lesson_model = self.current.train.model if on and self.current.train else None
        self.setup.show_fields(self.fields if lesson_model == self.state.model else None)

    def show_all_controls(self) -> None:
        for key in CONTROLS:
            if key != "dock.runs":
                self.show_control(key, True)
        self.setup.show_fields(None)

    def customise_classroom(self) -> None:
        if self.current is None:
            QMessageBox.information(self.w, "Classroom mode",
                                    "Open a lesson first: the controls are chosen per lesson.")
            return
        dlg = ClassroomDialog(self.current, self.hidden, self.fields, self.w)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        self.set_hidden(dlg.hidden(), save=dlg.save, fields=dlg.fields())

    def set_hidden(self, hidden: list[str], save: bool = False, fields=None):
        """Use `hidden` (and the config `fields` shown; None: all) for the current lesson; with
        save, write them into the user's copy of the preset (the shipped file is never
        changed). Returns the written path or None."""
        self.hidden = tuple(hidden)
        self.fields = tuple(fields) if fields is not None else None
        path = None
        if save:
            try:
                path = save_classroom(self.current, list(hidden), fields=fields)
            except WorkbenchError as e:
                QMessageBox.warning(self.w, "Cannot save the lesson", str(e))
            else:
                self.fill_menu()  # the copy now replaces the shipped lesson
                self.current = self.catalogue.get(self.current.name)
                self.state.show_status(f"Saved the classroom controls in {path}")
        if not self.act_classroom.isChecked():
            self.act_classroom.setChecked(True)  # choosing controls means using them
        else:
            self.apply_classroom()
        return path
