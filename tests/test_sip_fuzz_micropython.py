"""The SIP/SDP mutation fuzzer (tests/core/test_sip_message_fuzz.py) on the
MicroPython unix port, in a subprocess: 2,000 mutated datagrams plus the
streams, header values and SDP bodies that go with them. MicroPython's str,
bytes and int behave differently enough (no UTF-8 leniency, int() accepting
'1_0', unordered dicts) that the CPython run alone proves nothing here."""
import ast

from tests.support.runtimes import run_micropython

COUNT = 2000


def test_fuzz_sip_parsers_on_micropython():
    script = "import test_sip_message_fuzz as f\nprint('STATS', repr(f.run(%d, seed=4242)))\n" % COUNT
    result = run_micropython(["-c", script], timeout=300)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    line = [ln for ln in result.stdout.splitlines() if ln.startswith("STATS ")]
    assert line, output[-4000:]
    stats = ast.literal_eval(line[-1][6:])
    assert stats["datagrams"] == COUNT
    assert COUNT // 50 < stats["accepted"] < COUNT // 2, stats
    assert stats["stream_events"] > COUNT // 20, stats
    assert stats["sdp_accepted"] > COUNT // 100, stats
