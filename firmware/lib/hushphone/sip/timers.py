# RFC 3261 §17 / Table 4 timer values (milliseconds), in one place, for a
# reliable transport (TLS): retransmission timers A, E and G never run, and
# the "wait for retransmissions" timers D, I, J, K are zero.
from hushphone.compat import const

T1 = const(500)  # RTT estimate
T2 = const(4000)  # maximum retransmit interval for non-INVITE
T4 = const(5000)  # maximum time a message stays in the network

TIMER_B = const(32000)  # 64*T1: INVITE client transaction timeout
TIMER_F = const(32000)  # 64*T1: non-INVITE client transaction timeout
TIMER_H = const(32000)  # 64*T1: wait for the ACK of a non-2xx final response
TIMER_D = const(0)  # reliable transport: no response retransmissions to absorb
TIMER_I = const(0)
TIMER_J = const(0)
TIMER_K = const(0)
# RFC 6026: how long 2xx retransmissions (client, Timer M) and retransmitted
# INVITEs (server, Timer L) are still matched to the INVITE transaction.
TIMER_L = const(32000)
TIMER_M = const(32000)
# RFC 3261 §13.3.1.4: a UAS that sent a 2xx ends the call if no ACK comes
# within 64*T1.
ACK_WAIT = const(32000)
# Timer C-like expiry of an INVITE that got a provisional response but no
# final one (§16.6 uses > 3 minutes for proxies; a phone gives up at the
# same point and CANCELs).
INVITE_EXPIRY = const(180000)

# RFC 5626 §4.4.1: a pong must arrive within 10 s of a ping.
PONG_TIMEOUT = const(10000)
# Default keepalive ping interval on the TLS flow (RFC 5626 §4.4.1
# recommends 95-120 s for connection-oriented transports).
KEEPALIVE_INTERVAL = const(100000)

# Registration (RFC 3261 §10, backoff per RFC 5626 §4.5).
DEFAULT_EXPIRES = const(600)  # seconds asked for in REGISTER
REFRESH_MARGIN = const(30000)  # refresh at least this long before expiry
BACKOFF_BASE = const(30000)  # first retry after a failure (before jitter)
BACKOFF_MAX = const(1800000)  # cap of the exponential backoff
