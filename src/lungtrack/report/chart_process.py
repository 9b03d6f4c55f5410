"""The report's charts drawn in a second process, started before the records are read.

Importing matplotlib and reading the store and running the rules (SQLAlchemy) take about half a
second each, and both are CPU-bound Python: two threads would take turns on the interpreter lock,
two processes run side by side.  So ``lungtrack report --format html|pdf`` forks one helper
process first; it imports matplotlib while the command reads the records; the command then sends
it the report data (:class:`lungtrack.report.model.Report`, pickled through a pipe) and gets the
finished charts back, doing its own next steps meanwhile.  With two cores or more the helper
shares the drawing with a fork of itself (every other chart), made once matplotlib is loaded, so
that fork costs next to nothing.

The helper only draws: it opens no file and no connection, and it writes nothing.  Whatever goes
wrong with it (no ``fork`` on this system, the process dies, a chart raises), the command draws
the charts itself, as before, so the result and any error are exactly what they would be without
it.  It is a daemon process: it never outlives the command (see :meth:`ChartProcess.close`).
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

#: the start method: the helper must inherit the loaded program, not start a fresh interpreter
_START = "fork"


def supported() -> bool:
    """Whether a helper can be forked cheaply and safely here (Linux; not macOS, where forking a
    process that may have loaded system frameworks is unsafe, nor Windows, which cannot fork)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork")


class ChartProcess:
    """One helper process that draws one report's charts.

    ``with ChartProcess.start() as helper: ...; charts = helper.charts(report)``; ``start()``
    returns a stand-in that draws in this process when no helper can be started."""

    def __init__(self) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context(_START)
        self._conn, child_end = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child_end, self._conn), name="lungtrack-charts", daemon=True)
        self._proc.start()
        child_end.close()

    @classmethod
    def start(cls) -> "ChartProcess | InProcess":
        """A helper, started now; or the stand-in where forking is not safe (another system, or other
        threads running in this process: a lock one of them holds would stay locked in the fork)."""
        import threading

        if not supported() or threading.active_count() > 1:
            return InProcess()
        try:
            return cls()
        except (OSError, ValueError, RuntimeError):  # no fork, no pipe, too many processes ...
            return InProcess()

    def charts(self, report: Any, meanwhile: Callable[[], object] | None = None) -> list[Any]:
        """The charts of ``report``: drawn by the helper, or here if the helper could not draw them.

        ``meanwhile`` runs here while the helper draws (the command's own next steps that need no
        chart, e.g. importing what it writes with); an error in it is the caller's, as usual."""
        try:
            self._conn.send(report)
        except Exception:  # noqa: BLE001 - the helper died, or could not take the data: draw here
            self.close()
            return InProcess().charts(report, meanwhile)
        try:
            if meanwhile is not None:
                meanwhile()
            result = self._answer()
        finally:
            self.close()
        if isinstance(result, tuple) and len(result) == 2 and result[0] == "charts":
            return result[1]
        return InProcess().charts(report)  # draws here: the same charts, or the same error

    def _answer(self) -> Any:
        """What the helper sent back; None if it died or sent nothing usable."""
        from multiprocessing.connection import wait

        try:
            ready = wait([self._conn, self._proc.sentinel])
            if self._conn in ready or self._conn.poll():
                return self._conn.recv()
        except Exception:  # noqa: BLE001 - draw here instead
            pass
        return None

    def close(self) -> None:
        """End the helper (idempotent): it gets end-of-file, and is terminated if still busy."""
        try:
            self._conn.close()
        except OSError:
            pass
        if self._proc.is_alive():
            self._proc.join(0.05)
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(1.0)

    def __enter__(self) -> "ChartProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcess:
    """The stand-in when no helper process can be used: draws the charts in this process."""

    def charts(self, report: Any, meanwhile: Callable[[], object] | None = None) -> list[Any]:
        from lungtrack.report.charts import build_charts

        if meanwhile is not None:
            meanwhile()
        return build_charts(report)

    def close(self) -> None:
        pass

    def __enter__(self) -> "InProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _serve(conn: Any, parent_end: Any) -> None:
    """The helper: import matplotlib, wait for the report data, draw, send the charts back."""
    import signal

    parent_end.close()  # so that the command's end closing (or the command dying) reads as end-of-file here
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the command's to handle; it ends this process
    try:
        from lungtrack.report import charts

        charts.preload(lean=True)
        report = conn.recv()
    except (EOFError, OSError, KeyboardInterrupt):
        return  # the command ended, or no longer wants the charts
    try:
        result: Any = ("charts", draw(report))
    except Exception as exc:  # noqa: BLE001 - the command draws again and reports the error itself
        result = ("error", f"{type(exc).__name__}: {exc}")
    try:
        conn.send(result)
    except Exception:  # noqa: BLE001 - the pipe is gone, or the charts would not pickle: the command draws
        pass


def draw(report: Any) -> list[Any]:
    """The charts of ``report``, drawn in this process and, with two cores or more, in a fork of it
    that draws every other chart (matplotlib is already imported, so the fork is ready at once)."""
    import pickle
    import signal

    from lungtrack.report.charts import chart_jobs

    jobs = chart_jobs(report)
    theirs = list(range(1, len(jobs), 2))
    pid = -1
    if theirs and _cores() >= 2:
        read_end, write_end = os.pipe()
        try:
            pid = os.fork()
        except OSError:  # no fork now (too many processes ...): draw them all here
            os.close(read_end)
            os.close(write_end)
        if pid == 0:  # the fork: draw every other chart, hand them over, and end without any clean-up
            status = 1
            try:
                signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C ends it at once
                os.close(read_end)
                data = pickle.dumps([jobs[i]() for i in theirs], protocol=pickle.HIGHEST_PROTOCOL)
                with os.fdopen(write_end, "wb") as out:
                    out.write(data)
                status = 0
            except BaseException:  # noqa: BLE001 - the parent draws these itself
                pass
            finally:
                os._exit(status)
        if pid > 0:
            os.close(write_end)
    try:
        drawn: dict[int, Any] = {i: jobs[i]() for i in range(len(jobs)) if pid <= 0 or i not in theirs}
    except BaseException:
        if pid > 0:  # a chart failed here: end the fork too, and let the error go up
            os.close(read_end)
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        raise
    if pid > 0:
        got: Any = None
        try:
            with os.fdopen(read_end, "rb") as inp:
                data = inp.read()
        except OSError:
            data = b""
        finally:
            _, status = os.waitpid(pid, 0)
        try:
            got = pickle.loads(data) if status == 0 and data else None
        except Exception:  # noqa: BLE001 - draw them here instead
            got = None
        if not isinstance(got, list) or len(got) != len(theirs):
            got = [jobs[i]() for i in theirs]
        drawn.update(zip(theirs, got))
    return [drawn[i] for i in range(len(jobs)) if drawn[i] is not None]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1
