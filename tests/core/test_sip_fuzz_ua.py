# CI share of the user-agent fuzzing (engine and checks:
# test_sip_ua_fuzz.py), on both runtimes; seed and size from
# fuzz_budget.py (printed; HUSHPHONE_FUZZ_SEED reproduces a run).
import unittest

import fuzz_budget
import test_sip_ua_fuzz as fuzz

SHARE = 0.07  # of the inputs per runtime: a UA input costs ~5 parser inputs


class UaFuzz(unittest.TestCase):
    def test_mutated_exchanges_driven_like_the_phone(self):
        seed = fuzz_budget.seed()
        inputs = fuzz_budget.share(SHARE)
        print(fuzz_budget.label("test_sip_fuzz_ua", seed, inputs))
        try:
            stats = fuzz.run(inputs, seed * 2 + 7)
        except fuzz.FuzzFailure as e:
            raise AssertionError("%s\n%s" % (fuzz_budget.label("test_sip_fuzz_ua", seed, inputs), e))
        self.assertGreaterEqual(stats["inputs"], inputs)
        self.assertGreater(stats["events"], inputs // 2, stats)
        self.assertGreater(stats["timers"], inputs, stats)
        self.assertGreater(stats["dropped"], inputs // 20, stats)
