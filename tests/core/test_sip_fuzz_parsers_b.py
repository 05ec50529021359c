# CI share of the SIP/SDP parser fuzzing (engine and checks:
# test_sip_message_fuzz.py), on both runtimes; seed and size from
# fuzz_budget.py (printed; HUSHPHONE_FUZZ_SEED reproduces a run).
import unittest

import fuzz_budget
import test_sip_message_fuzz as fuzz

SHARE = 0.465  # of the inputs per runtime (two parser modules, one UA module)
OFFSET = 1  # the two parser modules run different streams of the same seed


class ParserFuzz(unittest.TestCase):
    def test_mutated_messages_streams_values_and_sdp(self):
        seed = fuzz_budget.seed()
        inputs = fuzz_budget.share(SHARE)
        name = "test_sip_fuzz_parsers_b"
        print(fuzz_budget.label(name, seed, inputs))
        try:
            stats = fuzz.run(inputs, seed=seed * 2 + OFFSET, inputs=inputs)
        except fuzz.FuzzFailure as e:
            raise AssertionError("%s\n%s" % (fuzz_budget.label(name, seed, inputs), e))
        self.assertGreaterEqual(stats["inputs"], inputs)
        # Both outcomes in bulk, or the run proves little.
        n = stats["datagrams"]
        self.assertTrue(n // 50 < stats["accepted"] < n // 2, stats)
        self.assertGreater(stats["stream_events"], stats["streams"] // 5, stats)
        self.assertGreater(stats["sdp_accepted"], stats["sdp"] // 50, stats)
