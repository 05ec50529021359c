"""Timing on a shared machine: the latency benchmarks run under SCHED_FIFO
(lowest real-time priority) where the system allows it, so that other
processes do not preempt the code being timed and a "worst packet" is the
code's worst, not the scheduler's. Each timed run lasts a few seconds at
most (and Linux keeps 5% of each second for normal tasks). Where FIFO is
not allowed the figures are wall-clock under whatever load there is, and
the benchmarks say so."""
import os
from contextlib import contextmanager

from tests.support.runtimes import run_micropython


def set_fifo():
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))


def fifo_available():
    try:
        policy = os.sched_getscheduler(0)
        param = os.sched_getparam(0)
        set_fifo()
        os.sched_setscheduler(0, policy, param)
        return True
    except (AttributeError, PermissionError, OSError):
        return False


FIFO = fifo_available()


def note():
    if FIFO:
        return "timed under SCHED_FIFO (no preemption by other processes)"
    return "SCHED_FIFO not permitted: wall-clock figures under the machine's load (worst cases include preemption)"


def run_micropython_rt(args, **kwargs):
    """run_micropython, under SCHED_FIFO when available."""
    if FIFO:
        kwargs["preexec_fn"] = set_fifo
    return run_micropython(args, **kwargs)


@contextmanager
def fifo():
    """This (CPython) process under SCHED_FIFO for the with-block."""
    if not FIFO:
        yield
        return
    policy = os.sched_getscheduler(0)
    param = os.sched_getparam(0)
    set_fifo()
    try:
        yield
    finally:
        os.sched_setscheduler(0, policy, param)
