"""What a running job's step sees: its context (progress, log, cancellation) and heartbeat."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from inventories.models import Job
from mlcore.errors import Cancelled

# Raised inside a runner when the user asked to cancel; the job ends as cancelled. The one
# cancellation type of the project, so a training or prediction that stops on the job's
# should_stop ends the job as cancelled without a conversion in every runner.
JobCancelled = Cancelled


class JobDetached(Exception):
    """The runner handed the rest of the work to other tasks; the last one records the end."""


class Heartbeat:
    """A timer thread that beats the job's row while a step runs, on its own connection.

    A step that computes for minutes between two progress reports (a training
    epoch, a prediction block) still looks alive to the reaper. The beat only
    touches the row while this delivery holds the lease; once another delivery
    took the job over (or it ended), `lost` is set and the step stops at its
    next cancellation check.
    """

    def __init__(self, job_id: int, lease: str) -> None:
        self.job_id, self.lease = job_id, lease
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        try:
            while not self._stop.wait(settings.SCARP_JOB_HEARTBEAT_SECONDS):
                try:
                    held = Job.objects.filter(
                        pk=self.job_id, lease=self.lease, state=Job.State.RUNNING
                    ).update(heartbeat_at=timezone.now())
                except DatabaseError:
                    connection.close()  # the database is away; beat again once it is back
                    continue
                if (
                    not held
                    and Job.objects.filter(pk=self.job_id)
                    .exclude(lease=self.lease, state=Job.State.RUNNING)
                    .exists()
                ):
                    self.lost.set()  # another delivery holds it now, or it ended
        finally:
            connection.close()


@dataclass
class JobContext:
    """What a runner gets to report progress and notice cancellation.

    Writes are throttled so a tight loop reporting progress costs no more than
    a few UPDATEs a second, and go only to the row this delivery holds.
    """

    job: Job
    min_interval: float = 0.5
    heartbeat: Heartbeat | None = None
    _last_write: float = field(default=0.0, init=False)

    def _mine(self):
        return Job.objects.filter(pk=self.job.pk, lease=self.job.lease)

    def due(self) -> bool:
        """Whether a progress write now would be kept, not throttled: a caller whose message
        costs something to make (a loss read off the GPU) asks first."""
        return time.monotonic() - self._last_write >= self.min_interval

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_write < self.min_interval:
            return
        self._last_write = now
        fraction = max(0.0, min(1.0, float(fraction)))
        self._mine().update(progress=fraction, message=message[:500], heartbeat_at=timezone.now())

    def log(self, line: str) -> None:
        stamp = timezone.now().strftime("%H:%M:%S")
        self._mine().update(
            log=Concat(F("log"), Value(f"[{stamp}] {line}\n")), heartbeat_at=timezone.now()
        )

    def cancelled(self) -> bool:
        """True when the user asked to stop, or another delivery holds the job now."""
        if self.heartbeat is not None and self.heartbeat.lost.is_set():
            return True
        return not self._mine().filter(cancel_requested=False, state=Job.State.RUNNING).exists()

    def check_cancelled(self) -> None:
        if self.cancelled():
            raise JobCancelled()

    def assert_holds(self) -> None:
        """Inside a transaction: lock the row and refuse to commit if the lease was lost.

        Called before a runner stores its result, so a worker that was taken
        for dead stores nothing next to the one that took over.
        """
        if not self._mine().select_for_update().filter(state=Job.State.RUNNING).exists():
            raise JobCancelled()
