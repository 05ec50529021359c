# Digest authentication (RFC 7616, RFC 8760, RFC 2617) against the RFC
# examples, and the client's challenge handling.
import binascii
import hashlib
import unittest

from hushphone.sip.digest import Challenge, DigestClient, DigestError, compute_response, parse_challenges
from hushphone.sip.message import Headers, RemoteSipError, parse_auth_params

# RFC 7616 §3.9.1 (the HTTP example: method GET, uri /dir/index.html)
R7616 = {
    "username": "Mufasa",
    "realm": "http-auth@example.org",
    "password": "Circle of Life",
    "method": "GET",
    "uri": "/dir/index.html",
    "nonce": "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
    "nc": "00000001",
    "cnonce": "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    "qop": "auth",
}


def _r7616(algorithm):
    v = R7616
    return compute_response(algorithm, v["username"], v["realm"], v["password"], v["method"], v["uri"],
                            v["nonce"], v["nc"], v["cnonce"], v["qop"])


def _challenge(text, proxy=False):
    h = Headers()
    h.add("Proxy-Authenticate" if proxy else "WWW-Authenticate", text)
    return h


class RfcVectors(unittest.TestCase):
    def test_rfc7616_md5(self):
        self.assertEqual(_r7616("MD5"), "8ca523f5e9506fed4657c9700eebdbec")

    def test_rfc7616_sha256(self):
        self.assertEqual(_r7616("SHA-256"), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1")

    def test_rfc2617_section_3_5(self):
        got = compute_response("MD5", "Mufasa", "testrealm@host.com", "Circle Of Life", "GET", "/dir/index.html",
                               "dcd98b7102dd2f0e8b11d0f600bfb0c093", "00000001", "0a4f113b", "auth")
        self.assertEqual(got, "6629fae49393a05397450978507c4ef1")

    def test_rfc2069_form_without_qop(self):
        # RFC 2617 §3.2.2.1 without qop: KD(H(A1), nonce ":" H(A2)),
        # spelled out with hashlib as an independent check.
        def _hex(text):
            return binascii.hexlify(hashlib.md5(text.encode()).digest()).decode()

        ha1 = _hex("bob:biloxi.com:zanzibar")
        ha2 = _hex("REGISTER:sip:biloxi.com")
        want = _hex("%s:%s:%s" % (ha1, "ea9c8e88df84f1cec4341ae6cbe5a359", ha2))
        got = compute_response("MD5", "bob", "biloxi.com", "zanzibar", "REGISTER", "sip:biloxi.com",
                               "ea9c8e88df84f1cec4341ae6cbe5a359")
        self.assertEqual(got, want)

    def test_sess_variant_hashes_nonce_and_cnonce_into_ha1(self):
        plain = compute_response("MD5", "u", "r", "p", "INVITE", "sip:x", "n", "00000001", "c", "auth")
        sess = compute_response("MD5-sess", "u", "r", "p", "INVITE", "sip:x", "n", "00000001", "c", "auth")
        self.assertNotEqual(plain, sess)
        self.assertEqual(len(sess), 32)


class Client(unittest.TestCase):
    def rb(self, n):
        return bytes(range(n))

    def test_authorization_header_verifies_and_counts_nonce_use(self):
        challenges = parse_challenges(_challenge(
            'Digest realm="atlanta.example.com", nonce="84a4cc6f3082121f32b42a2187831a9e", qop="auth", opaque="5ccc"'))
        client = DigestClient("alice", "secret")
        values = [client.authorization(challenges[0], "REGISTER", "sip:atlanta.example.com", self.rb) for _ in range(2)]
        for i, value in enumerate(values):
            scheme, p = parse_auth_params(value)
            self.assertEqual(scheme, "Digest")
            self.assertEqual(p["nc"], "%08x" % (i + 1))
            self.assertEqual(p["opaque"], "5ccc")
            self.assertEqual(p["algorithm"], "MD5")
            want = compute_response("MD5", "alice", "atlanta.example.com", "secret", "REGISTER",
                                    "sip:atlanta.example.com", p["nonce"], p["nc"], p["cnonce"], "auth")
            self.assertEqual(p["response"], want)
        self.assertNotIn("secret", values[0])
        self.assertNotIn("secret", repr(client))

    def test_sha256_is_preferred_when_offered(self):
        h = Headers()
        h.add("WWW-Authenticate", 'Digest realm="r", nonce="n1", qop="auth", algorithm=MD5')
        h.add("WWW-Authenticate", 'Digest realm="r", nonce="n2", qop="auth", algorithm=SHA-256')
        got = parse_challenges(h)
        self.assertEqual([c.algorithm for c in got], ["SHA-256", "MD5"])
        value = DigestClient("u", "p").authorization(got[0], "INVITE", "sip:b@r", self.rb)
        self.assertEqual(parse_auth_params(value)[1]["algorithm"], "SHA-256")
        self.assertEqual(len(parse_auth_params(value)[1]["response"]), 64)

    def test_two_challenges_in_one_header(self):
        got = parse_challenges(_challenge(
            'Digest realm="r", nonce="a", algorithm=SHA-256, qop="auth", Digest realm="r", nonce="b", qop="auth"',
            proxy=True), proxy=True)
        self.assertEqual([c.nonce for c in got], ["a", "b"])
        self.assertTrue(got[0].proxy)

    def test_stale_nonce_is_answered_again_but_a_repeat_challenge_is_not(self):
        client = DigestClient("u", "p")
        first = Challenge({"realm": "r", "nonce": "n1", "qop": "auth"})
        self.assertTrue(client.accept(first))
        client.authorization(first, "REGISTER", "sip:r", self.rb)
        again = Challenge({"realm": "r", "nonce": "n2", "qop": "auth"})
        self.assertFalse(client.accept(again))  # the server refused our password
        stale = Challenge({"realm": "r", "nonce": "n3", "qop": "auth", "stale": "TRUE"})
        self.assertTrue(client.accept(stale))
        client.reset()
        self.assertTrue(client.accept(again))

    def test_unanswerable_challenges_raise_digest_error(self):
        for text in (
            'Digest realm="r", nonce="n", algorithm=SHA-512-256',
            'Digest realm="r", nonce="n", qop="auth-int"',
            'Digest realm="r"',
            'Basic realm="r"',
            'Digest realm="r", nonce="n", bogus',
            '"',
        ):
            with self.assertRaises(DigestError):
                parse_challenges(_challenge(text))
        with self.assertRaises(DigestError):
            parse_challenges(Headers())
        self.assertTrue(issubclass(DigestError, RemoteSipError))

    def test_rfc2617_server_without_qop(self):
        got = parse_challenges(_challenge('Digest realm="r", nonce="n"'))[0]
        value = DigestClient("u", "p").authorization(got, "REGISTER", "sip:r", self.rb)
        p = parse_auth_params(value)[1]
        self.assertNotIn("nc", p)
        self.assertNotIn("cnonce", p)
        self.assertEqual(p["response"], compute_response("MD5", "u", "r", "p", "REGISTER", "sip:r", "n"))
