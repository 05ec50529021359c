"""SIP/SDP parser fuzzing on CPython: 100,000 deterministic mutated datagrams
(plus 25,000 chunked streams, 10,000 header-value sets and 25,000 SDP
bodies), split into four seeds so pytest-xdist can spread them. The engine
and the checks live in tests/core/test_sip_message_fuzz.py, shared with the
MicroPython run."""
import pytest

import test_sip_message_fuzz as fuzz

PER_SEED = 25_000
SEEDS = (101, 202, 303, 404)


@pytest.mark.parametrize("seed", SEEDS)
def test_fuzz_sip_parsers(seed):
    stats = fuzz.run(PER_SEED, seed=seed)
    assert stats["datagrams"] == PER_SEED
    # Both outcomes must occur in bulk, or the run proves little.
    assert PER_SEED // 50 < stats["accepted"] < PER_SEED // 2, stats
    assert stats["stream_events"] > PER_SEED // 20, stats
    assert stats["sdp_accepted"] > PER_SEED // 100, stats


def test_total_budget_is_at_least_100k():
    assert PER_SEED * len(SEEDS) >= 100_000


def test_hypothesis_arbitrary_bytes():
    """Arbitrary bytes and arbitrary text around a valid start line: only
    SipParseError may escape (derandomised, fixed example budget)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    prefix = b"INVITE sip:bob@example.com SIP/2.0\r\n"

    @settings(max_examples=2000, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.binary(max_size=600), st.booleans())
    def check(data, with_prefix):
        fuzz.check_datagram(prefix + data if with_prefix else data)
        fuzz.check_stream(prefix + data if with_prefix else data, fuzz.Rng(len(data)))
        fuzz.check_sdp(data)

    check()


def test_hypothesis_structured_header_values():
    """Header values drawn from SIP's own punctuation (quotes, escapes,
    brackets, ;=,:@%) under the headers that parse_message validates, plus
    the value parsers on their own: only SipParseError may escape, and an
    accepted message must round-trip (derandomised, fixed example budget)."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from hushphone.sip.message import SipParseError, parse_challenges, parse_name_addr, parse_uri, parse_via

    alphabet = st.sampled_from(list('abcAZ09 \t"\\<>[]:;,=@%?&/.-_+*!~\'()') + ["sip:", "sips:", "%41", "tag=", "branch=", "SIP/2.0/TLS "])
    value = st.lists(alphabet, max_size=40).map("".join)
    names = st.sampled_from(["From", "To", "Contact", "Via", "Route", "Record-Route", "CSeq", "Call-ID",
                             "Max-Forwards", "Content-Length", "WWW-Authenticate", "Subject", "m", "v", "l"])
    base = fuzz.generated_seeds()[1]

    @settings(max_examples=2500, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
    @given(names, value)
    def check(name, text):
        data = base.replace(b"Max-Forwards: 70\r\n", (name + ": " + text + "\r\n").encode(), 1)
        fuzz.check_datagram(data)
        for parser in (parse_uri, parse_name_addr, parse_via, parse_challenges):
            try:
                parser(text)
            except SipParseError:
                pass

    check()

