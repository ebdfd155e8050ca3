"""The window's one task class (workbench/ui/tasks.py): results, errors, progress and partial
results arrive on the GUI thread; the latest request wins; cancel raises Cancelled inside the
work and delivers nothing but on_cancelled; progress is throttled; shutdown waits."""

from __future__ import annotations

import threading
import time

import pytest

from workbench.core.tasks import Cancelled


@pytest.fixture
def task(qasync_loop):
    from workbench.ui.tasks import Task

    t = Task("test")
    yield t
    assert t.shutdown(timeout=10)
    assert not t.busy


def wait_while_busy(qtbot, task, timeout=10_000):
    qtbot.waitUntil(lambda: not task.busy, timeout=timeout)


def test_result_is_delivered_on_the_gui_thread(qtbot, task):
    gui = threading.get_ident()
    seen = []

    def work(ctx):
        return threading.get_ident()

    task.submit(work, on_done=lambda worker: seen.append((worker, threading.get_ident())))
    assert task.busy
    wait_while_busy(qtbot, task)
    (worker, delivered), = seen
    assert worker != gui and delivered == gui


def test_error_is_delivered_and_emits_arrive_in_order(qtbot, task):
    errors, emitted = [], []

    def work(ctx):
        for i in range(5):
            ctx.emit(i)
        raise ValueError("bad value")

    task.submit(work, on_error=errors.append, on_emit=emitted.append,
                on_done=lambda r: pytest.fail("no result after an error"))
    wait_while_busy(qtbot, task)
    assert emitted == [0, 1, 2, 3, 4]
    assert len(errors) == 1 and isinstance(errors[0], ValueError) and "bad value" in str(errors[0])


def test_an_error_without_on_error_reaches_the_excepthook(qtbot, task, monkeypatch):
    import sys

    hooked = []
    monkeypatch.setattr(sys, "excepthook", lambda *exc: hooked.append(exc[1]))
    task.submit(lambda ctx: 1 / 0)
    wait_while_busy(qtbot, task)
    assert len(hooked) == 1 and isinstance(hooked[0], ZeroDivisionError)


def test_latest_request_wins(qtbot, task):
    started = threading.Event()
    stopped = []
    done = []

    def slow(ctx):
        started.set()
        while not ctx.cancelled:
            time.sleep(0.005)
        stopped.append(True)
        return "old"  # returned, not raised: dropped all the same

    task.submit(slow, on_done=done.append, on_cancelled=lambda: done.append("cancelled"))
    assert started.wait(5)
    task.submit(lambda ctx: "new", on_done=done.append)
    wait_while_busy(qtbot, task)
    assert stopped == [True]  # the newer request cancelled the older one's work
    assert done == ["new"]  # and nothing of the older one was delivered


def test_a_queued_request_that_is_superseded_never_runs(qtbot, task):
    gate = threading.Event()
    ran = []
    task.submit(lambda ctx: gate.wait(5))
    task.submit(lambda ctx: ran.append("second"))  # waits behind the first
    task.submit(lambda ctx: ran.append("third"), on_done=lambda _r: ran.append("delivered"))
    gate.set()
    wait_while_busy(qtbot, task)
    assert ran == ["third", "delivered"]


def test_cancel_raises_cancelled_inside_and_delivers_only_on_cancelled(qtbot, task):
    started = threading.Event()
    inside, delivered = [], []

    def work(ctx):
        started.set()
        try:
            while True:
                ctx.progress(0.5, text="working")
                ctx.emit("partial")
                ctx.check()
                time.sleep(0.005)
        except Cancelled:
            inside.append("raised")
            raise

    task.submit(work, on_done=lambda r: delivered.append("done"),
                on_error=lambda e: delivered.append("error"),
                on_progress=lambda *a: delivered.append("progress"),
                on_emit=lambda p: delivered.append("emit"),
                on_cancelled=lambda: delivered.append("cancelled"))
    assert started.wait(5)
    qtbot.waitUntil(lambda: bool(delivered), timeout=5000)
    task.cancel()
    n = len(delivered)
    wait_while_busy(qtbot, task)
    assert inside == ["raised"]
    assert delivered[n:] == ["cancelled"]  # no progress, emit, result or error after cancel()


def test_progress_is_throttled_and_the_last_report_arrives(qtbot, task):
    from workbench.ui.tasks import PROGRESS_INTERVAL_S

    seen = []

    def work(ctx):
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < 0.5:  # thousands of reports in half a second
            i += 1
            ctx.progress(i, 10**9, f"step {i}")
        ctx.progress(i + 1, 10**9, "held back by the throttle, then flushed")
        return i

    results = []
    task.submit(work, on_done=results.append, on_progress=lambda *a: seen.append(a))
    wait_while_busy(qtbot, task)
    (n,), = [results]
    assert n > 200
    assert len(seen) <= 0.5 / PROGRESS_INTERVAL_S + 3
    assert seen[-1] == (n + 1, 10**9, "held back by the throttle, then flushed")


def test_a_held_back_report_goes_out_when_the_interval_is_over(qtbot, task):
    release = threading.Event()
    texts = []

    def work(ctx):
        ctx.progress(0, text="loading")
        ctx.progress(0, text="training")  # right after: held by the throttle …
        release.wait(10)  # … and this stage takes long

    task.submit(work, on_progress=lambda _d, _t, text: texts.append(text))
    qtbot.waitUntil(lambda: texts[-1:] == ["training"], timeout=5000)  # … yet it shows
    release.set()
    wait_while_busy(qtbot, task)
    assert texts == ["loading", "training"]


def test_shutdown_waits_for_the_work_and_drops_its_news(qtbot, task):
    started = threading.Event()
    ended = []
    delivered = []

    def work(ctx):
        started.set()
        while not ctx.cancelled:
            time.sleep(0.005)
        time.sleep(0.2)  # tidying up takes a moment: shutdown waits for it
        ended.append(True)
        return "late"

    task.submit(work, on_done=delivered.append, on_cancelled=lambda: delivered.append("c"))
    assert started.wait(5)
    assert task.shutdown(timeout=10)
    assert ended == [True] and not task.busy
    qtbot.wait(100)
    assert delivered == []
    # the task stays usable (a view stops one study, then runs the next)
    task.submit(lambda ctx: "again", on_done=delivered.append)
    wait_while_busy(qtbot, task)
    assert delivered == ["again"]


def test_shutdown_gives_up_after_its_timeout(qtbot, task):
    release = threading.Event()
    task.submit(lambda ctx: release.wait(10))  # work that never checks for a stop
    time.sleep(0.05)
    assert not task.shutdown(timeout=0.1)
    release.set()


def test_busy_is_false_when_the_outcome_is_delivered(qtbot, task):
    states = []
    task.submit(lambda ctx: 1, on_done=lambda _r: states.append(task.busy))
    wait_while_busy(qtbot, task)
    assert states == [False]  # so a callback may start the next request


def test_context_without_a_gui():
    from workbench.core.tasks import TaskContext

    seen = []
    ctx = TaskContext(lambda d, t, _text: seen.append((d, t)))
    ctx.progress(3, 10)
    ctx.progress(0.5, text="a study's fraction and text")
    assert seen == [(3, 10), (0.5, None)]
    stop = threading.Event()
    ctx = TaskContext(should_stop=stop.is_set)
    ctx.check()
    stop.set()
    with pytest.raises(Cancelled):
        ctx.check()
    ctx = TaskContext()
    ctx.cancel()
    assert ctx.cancelled
