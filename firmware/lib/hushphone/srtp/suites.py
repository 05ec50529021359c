# The SDES crypto-suites (RFC 4568 §6.2, RFC 6188 §4) this module speaks:
# AES counter mode with HMAC-SHA1. Per suite: master/session cipher key
# length, SRTP tag length. Shared by every suite: 112-bit salt, 160-bit
# auth key, 80-bit SRTCP tag (the _32 suites shorten only the SRTP tag).
from hushphone.compat import const

SALT_LEN = const(14)
AUTH_KEY_LEN = const(20)
SRTCP_TAG_LEN = const(10)

SUITES = {
    "AES_CM_128_HMAC_SHA1_80": (16, 10),
    "AES_CM_128_HMAC_SHA1_32": (16, 4),
    "AES_256_CM_HMAC_SHA1_80": (32, 10),
    "AES_256_CM_HMAC_SHA1_32": (32, 4),
}
