# Where a handset keeps its identity, trust anchors, account and settings.
# Shared by the firmware (hal/esp32 and hal/unix NVS) and the host tools
# that provision handsets, so both sides agree on every name. NVS names
# (namespaces and keys) are at most 15 characters.
from hushphone.compat import const

NAME_MAX = const(15)

# Device identity: written once in the factory.
NS_IDENTITY = "hush_id"
KEY_DEV_KEY = "dev_key"  # DER PKCS#8 EC P-256 private key (blob)
KEY_DEV_CERT = "dev_cert"  # DER X.509 device certificate (blob)

# Trust anchors.
NS_TRUST = "hush_trust"
MAX_CA = const(8)  # ca0..ca7: DER CA certificates for TLS (SIP server CA, fleet CA)
MAX_OTA_DIGESTS = const(3)  # ota_dig0..ota_dig2: 32-byte Secure Boot V2 key digests
KEY_OTA_REVOKE = "ota_revoke"  # i32 bitmask: bit n set = ota_dig<n> revoked
# The fleet CA (DER blob) that authorises update pushes (hushctl provision
# writes it); on a handset provisioned before it existed the update agent
# takes the last occupied CA slot (server CAs first, the fleet CA last).
KEY_FLEET_CA = "fleet_ca"
KEY_SEC_VER = "sec_ver"  # i32 anti-rollback floor (the simulation's SECURE_VERSION eFuse)
# Revoked technician certificates: SHA-256 fingerprints (32 bytes each) of
# their DER encodings, concatenated (blob). Signed CRLs stay on the host.
KEY_TECH_REVOKED = "tech_revoked"
FINGERPRINT_LEN = const(32)

# Pulled updates (hushphone.ota.pull): written by the handset itself.
NS_PULL = "hush_pull"
KEY_CHAN_SEQ = "chan_seq"  # i32: highest channel-document sequence accepted (anti-replay)...
KEY_CHAN_NAME = "chan_name"  # blob: ...on this channel (another channel counts afresh)
KEY_ROLL_SEED = "roll_seed"  # 16-byte blob drawn on the handset: its rollout buckets (never sent)

# Optional SIP account (each a UTF-8 blob).
NS_SIP = "hush_sip"
KEY_SIP_REGISTRAR = "registrar"
KEY_SIP_PROXY = "proxy"
KEY_SIP_USER = "user"
KEY_SIP_PASSWORD = "password"
KEY_SIP_DISPLAY = "display"
SIP_KEYS = (KEY_SIP_REGISTRAR, KEY_SIP_PROXY, KEY_SIP_USER, KEY_SIP_PASSWORD, KEY_SIP_DISPLAY)
KEY_TURN_PASSWORD = "turn_pass"  # the TURN relay's long-term credential password (UTF-8 blob), a secret

# User settings. esp32.NVS cannot list a namespace, so settings that must
# survive an export from a real handset are listed here with their type
# ("i32" or "blob"); the simulated store can list all of them.
NS_CFG = "hush_cfg"
CFG_SETTINGS = (
    ("ring_vol", "i32"),  # ringer volume 0..10
    ("hide_callid", "i32"),  # 1 = withhold caller ID (RFC 3323)
    ("log_days", "i32"),  # call-log retention in days
    ("lang", "blob"),  # UI language tag, UTF-8
    ("turn_uri", "blob"),  # optional TURN relay URI (RFC 7065 turn:/turns:), UTF-8; "" = no relay
    ("turn_user", "blob"),  # the TURN relay's long-term credential user name, UTF-8
    ("sdes_fallback", "i32"),  # 1 = a peer without ZRTP gets SDES keys in SIP (provider can decrypt)
)

# Files in the handset's filesystem.
CONTACTS_PATH = "/data/contacts.vcf"  # vCard 4 (RFC 6350)

# esp-idf's ESP_ERR_NVS_NOT_FOUND: on a real handset esp32.NVS raises
# OSError(-0x1102) for a missing key; the simulated store raises ENOENT.
_ESP_ERR_NVS_NOT_FOUND = const(0x1102)


def ca_key(index):
    if not 0 <= index < MAX_CA:
        raise ValueError("CA slot out of range")
    return "ca%d" % index


def ota_digest_key(index):
    if not 0 <= index < MAX_OTA_DIGESTS:
        raise ValueError("OTA digest slot out of range")
    return "ota_dig%d" % index


def is_missing(err):
    """True if an OSError from NVS means "no such key" (device or simulation)."""
    code = err.args[0] if err.args else None
    return code == 2 or code == -_ESP_ERR_NVS_NOT_FOUND
