# SRTP/SRTCP (RFC 3711) with the AES-CM/HMAC-SHA1 suites of RFC 4568 and
# RFC 6188. Usage, one context per direction:
#   tx = SrtpContext("AES_CM_128_HMAC_SHA1_80", master_key, master_salt)
#   srtp = tx.protect(rtp);  rtp = rx.unprotect(srtp)
#   srtcp = tx.protect_rtcp(rtcp);  rtcp = rx.unprotect_rtcp(srtcp)
from hushphone.srtp.errors import (  # noqa: F401
    SrtpAuthError,
    SrtpError,
    SrtpLocalError,
    SrtpMalformedError,
    SrtpReplayError,
    SrtpStreamLimitError,
)
from hushphone.srtp.context import SrtpContext  # noqa: F401
from hushphone.srtp.suites import SUITES  # noqa: F401
