"""The handset's pure-Python ZRTP key agreements and PGP word list checked
against independent implementations on CPython: X25519 and finite-field DH
from pyca/cryptography (OpenSSL) with random keys, the RFC 7748 1000-fold
iteration, and the PGP word list that bzrtp (linphone's ZRTP library, the
Debian package libbzrtp0) carries."""
import os
import re
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import dh as ossl_dh
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hushphone.zrtp import dh
from hushphone.zrtp.pgpwords import EVEN_WORDS, ODD_WORDS

warnings.filterwarnings("ignore", message=".*Diffie-Hellman over finite fields.*")


def test_x25519_matches_openssl_with_random_keys():
    for _ in range(40):
        ours = os.urandom(32)
        theirs = X25519PrivateKey.generate()
        their_pub = theirs.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        our_pub = dh.x25519_public(ours)
        assert our_pub == X25519PrivateKey.from_private_bytes(ours).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        assert dh.x25519_shared(ours, their_pub) == theirs.exchange(X25519PublicKey.from_public_bytes(our_pub))


def test_x25519_rfc7748_iterated_1000_times():
    k = u = b"\x09" + bytes(31)
    for _ in range(1000):
        k, u = dh.x25519(k, u), k
    assert k.hex() == "684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51"


def test_dh3k_matches_openssl_with_random_keys():
    params = ossl_dh.DHParameterNumbers(dh.DH3K_P, dh.DH3K_G).parameters()
    for _ in range(4):
        pair = dh.generate(dh.KA_DH3K, os.urandom)
        theirs = params.generate_private_key()
        their_pv = theirs.public_key().public_numbers().y.to_bytes(384, "big")
        ours_for_openssl = ossl_dh.DHPublicNumbers(int.from_bytes(pair.public, "big"), params.parameter_numbers()).public_key()
        expected = theirs.exchange(ours_for_openssl)
        assert pair.shared(their_pv) == expected.rjust(384, b"\x00")


def _bzrtp_library():
    for d in ("/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib"):
        for p in sorted(Path(d).glob("libbzrtp.so*")):
            return p
    pytest.fail("libbzrtp (Debian libbzrtp0, pulled in by linphone-cli from system-packages.txt) is not installed")


def test_pgp_words_match_bzrtp():
    # The library's printable strings, as `strings` lists them.
    strings = [m.decode() for m in re.findall(rb"[\x20-\x7e]{2,}", _bzrtp_library().read_bytes())]
    start = strings.index("adroitness")  # bzrtp keeps the odd list, then the even list
    assert tuple(strings[start : start + 256]) == ODD_WORDS
    assert tuple(strings[start + 256 : start + 512]) == EVEN_WORDS
