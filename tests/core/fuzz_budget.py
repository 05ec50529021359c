# How much the SIP fuzz modules run, and with which seed (both runtimes).
# CI: CI_INPUTS per runtime, split over the test_sip_fuzz_*.py modules
# (separate modules so pytest-xdist runs them side by side), a new seed
# each run, printed. Reproduce or extend a run with the environment:
#   HUSHPHONE_FUZZ_SEED=1234      the seed a failure printed
#   HUSHPHONE_FUZZ_INPUTS=1000000 inputs per runtime (`make fuzz`)
import os
import time

CI_INPUTS = 30000


def total_inputs():
    value = os.getenv("HUSHPHONE_FUZZ_INPUTS")
    return int(value) if value else CI_INPUTS


def seed():
    value = os.getenv("HUSHPHONE_FUZZ_SEED")
    if value:
        return int(value)
    return int(time.time()) % 1000000007


def share(fraction):
    """This module's part of the inputs."""
    return max(1, int(total_inputs() * fraction))


def label(module, run_seed, inputs):
    """The line that says how to run this again."""
    return "%s: seed %d, %d inputs (again: HUSHPHONE_FUZZ_SEED=%d HUSHPHONE_FUZZ_INPUTS=%d)" % (
        module, run_seed, inputs, run_seed, total_inputs())
