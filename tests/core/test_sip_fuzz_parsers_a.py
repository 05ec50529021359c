# CI share of the SIP/SDP parser fuzzing (engine and checks:
# test_sip_message_fuzz.py), on both runtimes; seed and size from
# fuzz_budget.py (printed; HUSHPHONE_FUZZ_SEED reproduces a run). Two
# modules so pytest-xdist runs them side by side, each on its own stream.
import unittest

import test_sip_message_fuzz as fuzz


class ParserFuzz(unittest.TestCase):
    def test_mutated_messages_streams_values_and_sdp(self):
        fuzz.check_ci_share(self, "test_sip_fuzz_parsers_a", 0)
