# The handset's update verifier (hushphone.ota) on both runtimes, against
# bundles signed through espsecure's Secure Boot V2 code (tests/core/data/ota,
# made by regenerate.py there; key digests computed by espsecure).
import binascii
import io
import json
import struct
import unittest

from coretest import IS_MICROPYTHON, read_data
from hushphone.ota import OtaRejected, bundle, ecdsa, manifest, sbv2
from hushphone.ota.sha384 import _Sha384
from hushphone.ota.verifier import SignedImageVerifier, UpdateVerifier

META = json.loads(read_data("ota", "fixtures.json").decode())
DIGESTS = dict((k, binascii.unhexlify(v)) for k, v in META["key_digests"].items())
BOARD = META["board"]
NOW = META["released"] + 86400


def fixture(name):
    return read_data("ota", "%s.hushota" % name)


def make_verifier(name, trust=None, **kw):
    info = META["bundles"][name]
    args = {"board": BOARD, "chip": info["chip"], "running_secure_version": 1, "secure_version_floor": 1, "now": NOW}
    args.update(kw)
    if trust is None:
        trust = info["keys"]
    return UpdateVerifier([DIGESTS[k] for k in trust], **args)


def verify(name, data=None, chunk=4096, **kw):
    v = make_verifier(name, **kw)
    data = fixture(name) if data is None else data
    return bundle.verify_bundle(v, io.BytesIO(data).read, chunk), v


def rejection(test, func, *args, **kw):
    with test.assertRaises(OtaRejected) as ctx:
        func(*args, **kw)
    return ctx.exception.reason


def parts(data):
    """(header, signed manifest, signed image) of bundle bytes."""
    n = bundle.parse_bundle_header(data)
    return data[:12], data[12 : 12 + n], data[12 + n :]


class AcceptTest(unittest.TestCase):
    def test_each_scheme_verifies(self):
        for name in ("rsa", "p256", "p384"):
            with self.subTest(name=name):
                result, v = verify(name)
                info = META["bundles"][name]
                self.assertEqual(result.version, info["version"])
                self.assertEqual(result.secure_version, info["secure_version"])
                self.assertEqual(result.key_slots, [0])
                self.assertEqual(result.manifest.boards, [BOARD])
                self.assertEqual(result.app.project_name, "hushphone")

    def test_every_check_is_recorded_in_order(self):
        _result, v = verify("rsa")
        names = [n for n, _d in v.checks.passed]
        self.assertEqual(names, [
            "bundle-header", "manifest-signature", "manifest-format", "kind", "chip", "board", "expiry", "secure-version",
            "image-size", "image-sha256", "app-descriptor", "image-header", "image-chip", "image-secure-version",
            "image-signature",
        ])

    def test_any_chunk_sizes(self):
        data = fixture("p256")
        for chunk in (1, 3, 1000, 4095, 4096, 5000, len(data)):
            with self.subTest(chunk=chunk):
                result, _v = verify("p256", data, chunk)
                self.assertEqual(result.key_slots, [0])

    def test_key_digests_equal_espsecure(self):
        # The key digest each block carries is espsecure's digest-sbv2-public-key.
        for name, key in (("rsa", "rsa_a"), ("p256", "p256_a"), ("p384", "p384_a")):
            _h, _m, image = parts(fixture(name))
            blocks = sbv2.parse_signature_sector(image[-4096:])
            self.assertEqual(blocks[0].key_digest, DIGESTS[key])

    def test_three_signatures_and_revocation(self):
        result, _v = verify("three", trust=["rsa_a", "p256_a"])
        self.assertEqual(result.key_slots, [0, 1])
        result, _v = verify("three", trust=["rsa_a", "p256_a"], revoked_mask=1)
        self.assertEqual(result.key_slots, [1])
        result, _v = verify("three", trust=["p384_a", "rsa_b"])
        self.assertEqual(result.key_slots, [1])
        self.assertEqual(rejection(self, verify, "three", trust=["rsa_a", "p256_a"], revoked_mask=3), "revoked-key")
        self.assertEqual(rejection(self, verify, "three", trust=["p384_a"]), "untrusted-key")
        schemes = [b.scheme for b in sbv2.parse_signature_sector(parts(fixture("three"))[2][-4096:])]
        self.assertEqual(schemes, ["rsa3072", "ecdsa256", "rsa3072"])


class RejectTest(unittest.TestCase):
    def test_wrong_key(self):
        self.assertEqual(rejection(self, verify, "rsa", trust=["rsa_b"]), "untrusted-key")
        self.assertEqual(rejection(self, verify, "p256", trust=["rsa_a", "p384_a"]), "untrusted-key")

    def test_revoked_key(self):
        self.assertEqual(rejection(self, verify, "rsa", trust=["rsa_a", "rsa_b"], revoked_mask=1), "revoked-key")

    def test_downgrade(self):
        self.assertEqual(rejection(self, verify, "rsa", running_secure_version=4), "downgrade")
        self.assertEqual(rejection(self, verify, "rsa", secure_version_floor=4), "downgrade")
        result, _v = verify("rsa", running_secure_version=3, secure_version_floor=3)  # equal is fine
        self.assertEqual(result.secure_version, 3)

    def test_wrong_board_or_chip(self):
        self.assertEqual(rejection(self, verify, "rsa", board="other-board"), "board")
        self.assertEqual(rejection(self, verify, "rsa", chip="esp32"), "chip")

    def test_image_chip_differs_from_signed_manifest(self):
        # The manifest says esp32s3 and is validly signed; the image is an ESP32-C6 app.
        self.assertEqual(rejection(self, verify, "chip-lie", chip="esp32s3"), "chip")

    def test_image_secure_version_differs_from_manifest(self):
        self.assertEqual(rejection(self, verify, "version-lie"), "mismatch")

    def test_expired_or_time_unknown(self):
        self.assertEqual(rejection(self, verify, "rsa", now=META["expires"]), "expired")
        self.assertEqual(rejection(self, verify, "rsa", now=None), "expired")
        verify("rsa", now=META["expires"] - 1)

    def test_truncated(self):
        data = fixture("rsa")
        for cut in (1, 100, 4096, 4097, 12288):
            with self.subTest(cut=cut):
                self.assertEqual(rejection(self, verify, "rsa", data[:-cut]), "truncated")
        self.assertEqual(rejection(self, verify, "rsa", data[:20]), "truncated")

    def test_oversized(self):
        info = META["bundles"]["rsa"]
        self.assertEqual(rejection(self, verify, "rsa", max_image_size=info["image_size"] - 4096), "oversized")
        self.assertEqual(rejection(self, verify, "rsa", fixture("rsa") + b"\x00"), "oversized")
        verify("rsa", max_image_size=info["image_size"])
        # Streaming more than the manifest announced is refused at once.
        _h, signed_manifest, image = parts(fixture("rsa"))
        v = make_verifier("rsa")
        v.check_manifest(signed_manifest)
        v.update(image)
        self.assertEqual(rejection(self, v.update, b"\xff"), "oversized")

    def test_malformed_bundle_header(self):
        data = fixture("rsa")
        self.assertEqual(rejection(self, bundle.parse_bundle_header, b"HUSHOTA2" + data[8:12]), "malformed")
        for length in (0, 4096, 8193, 1 << 31):
            with self.subTest(length=length):
                bad = data[:8] + struct.pack("<I", length) + data[12:]
                self.assertEqual(rejection(self, bundle.parse_bundle_header, bad), "malformed")
        self.assertEqual(rejection(self, bundle.parse_bundle_header, data[:11]), "truncated")
        self.assertEqual(rejection(self, verify, "rsa", b"\x00" * 64), "malformed")

    def test_flipped_bits_anywhere(self):
        # Positions spread over the whole bundle; each region fails its own way.
        data = fixture("rsa")
        _h, signed_manifest, _i = parts(data)
        manifest_end = 12 + len(signed_manifest)
        count = 30 if IS_MICROPYTHON else 200
        step = len(data) // count
        seen = set()
        for i in range(count):
            pos = i * step + (i * 2654435761) % step
            flipped = bytearray(data)
            flipped[pos] ^= 1 << (i % 8)
            reason = rejection(self, verify, "rsa", bytes(flipped))
            if pos < 12:
                allowed = ("malformed", "truncated")
            elif pos < manifest_end:
                allowed = ("digest", "signature", "malformed")
            else:
                allowed = ("digest",)
            self.assertIn(reason, allowed, "bit flipped at %d gave %s" % (pos, reason))
            seen.add(reason)
        self.assertIn("digest", seen)
        self.assertIn("signature", seen)

    def test_bare_image_flips_fail_the_sbv2_check(self):
        # Without a manifest's SHA-256 the signature sector alone must notice.
        _h, _m, image = parts(fixture("p256"))
        trust = sbv2.TrustAnchors([DIGESTS["p256_a"]])
        count = 10 if IS_MICROPYTHON else 60
        step = len(image) // count
        for i in range(count):
            pos = i * step + (i * 40503) % step
            flipped = bytearray(image)
            flipped[pos] ^= 0x80 >> (i % 8)
            v = SignedImageVerifier(trust, len(image), chip="esp32c6")
            v.update(flipped)
            reason = rejection(self, v.finish)
            self.assertIn(reason, ("digest", "signature", "malformed", "chip"), "flip at %d: %s" % (pos, reason))

    def test_block_with_valid_crc_but_bad_signature_or_digest(self):
        _h, _m, image = parts(fixture("rsa"))
        trust = sbv2.TrustAnchors([DIGESTS["rsa_a"]])
        for offset, want in ((900, "signature"), (10, "digest")):
            forged = bytearray(image)
            sector = len(image) - 4096
            forged[sector + offset] ^= 0x01
            crc = binascii.crc32(bytes(forged[sector : sector + 1196])) & 0xFFFFFFFF
            forged[sector + 1196 : sector + 1200] = struct.pack("<I", crc)
            v = SignedImageVerifier(trust, len(image))
            v.update(forged)
            self.assertEqual(rejection(self, v.finish), want)

    def test_unsigned_and_wrongly_sized_images(self):
        trust = sbv2.TrustAnchors([DIGESTS["rsa_a"]])
        _h, _m, image = parts(fixture("rsa"))
        v = SignedImageVerifier(trust, len(image))
        v.update(image[:-4096] + b"\xff" * 4096)
        self.assertEqual(rejection(self, v.finish), "signature")
        self.assertEqual(rejection(self, SignedImageVerifier, trust, 4096), "malformed")
        self.assertEqual(rejection(self, SignedImageVerifier, trust, 10000), "malformed")

    def test_image_before_manifest_is_a_local_error(self):
        with self.assertRaises(ValueError):
            make_verifier("rsa").update(b"x")


class ManifestTest(unittest.TestCase):
    FIELDS = {
        "format": 1, "boards": ["b1", "b2"], "chip": "esp32s3", "version": "1.0", "secure_version": 2,
        "image_size": 8192, "image_sha256": "ab" * 32, "released": 10, "expires": 20, "notes": 'caf\u00e9 "x"\n',
    }
    CANONICAL = (
        b'{"boards":["b1","b2"],"chip":"esp32s3","expires":20,"format":1,"image_sha256":"' + b"ab" * 32
        + b'","image_size":8192,"notes":"caf\xc3\xa9 \\"x\\"\\n","released":10,"secure_version":2,"version":"1.0"}'
    )

    def test_canonical_encoding(self):
        self.assertEqual(manifest.encode(self.FIELDS), self.CANONICAL)
        self.assertEqual(manifest.decode(self.CANONICAL).notes, self.FIELDS["notes"])

    def test_matches_cpython_json(self):
        if IS_MICROPYTHON:
            self.skipTest("the reference encoder is CPython's json module")
        import json as cjson

        for notes in ("plain", "tab\there", "\x01\x1f ctrl", "\u2028 and \U0001f600", "back\\slash/"):
            fields = dict(self.FIELDS, notes=notes)
            ref = cjson.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
            self.assertEqual(manifest.encode(fields), ref)

    def test_rejects_bad_manifests(self):
        good = self.CANONICAL
        bad = [
            good.replace(b":", b": ", 1),  # not canonical
            good.replace(b'"format":1', b'"format":2'),
            good.replace(b'"format":1', b'"format":true'),
            good.replace(b'"released":10,', b""),
            good.replace(b'"boards":["b1","b2"]', b'"boards":[]'),
            good.replace(b"ab" * 32, b"AB" * 32),
            good[:-1] + b',"zzz":1}',
            b"[1,2]",
            b"\xff\xfe",
            b"{",
        ]
        for data in bad:
            with self.subTest(data=data[:40]):
                self.assertEqual(rejection(self, manifest.decode, data), "malformed")

    def test_strip_padding(self):
        self.assertEqual(manifest.strip_padding(b'{"a":1}' + b"\xff" * 100), b'{"a":1}')


class PrimitivesTest(unittest.TestCase):
    def test_sha384_fips180_vectors(self):
        h = _Sha384()
        h.update(b"a")
        h.update(b"bc")
        self.assertEqual(binascii.hexlify(h.digest()), b"cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163"
                         b"1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7")
        two_block = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
        self.assertEqual(binascii.hexlify(_Sha384(two_block).digest()), b"09330c33f71147e83d192fc782cd1b4753111b173b3b05d2"
                         b"2fa08086e3b0f712fcc7c71a557e2db966c3e9fa91746039")

    def test_ecdsa_rejects_out_of_range_values(self):
        g = ecdsa.P256.g
        z = b"\x01" * 32
        self.assertFalse(ecdsa.verify(ecdsa.P256, g[0], g[1], 0, 1, z))
        self.assertFalse(ecdsa.verify(ecdsa.P256, g[0], g[1], 1, ecdsa.P256.n, z))
        self.assertFalse(ecdsa.verify(ecdsa.P256, g[0], g[1] + 1, 1, 1, z))  # not on the curve
        self.assertTrue(ecdsa.P384.on_curve(ecdsa.P384.g[0], ecdsa.P384.g[1]))
        self.assertTrue(ecdsa.P192.on_curve(ecdsa.P192.g[0], ecdsa.P192.g[1]))

    def test_trust_anchor_limits(self):
        with self.assertRaises(ValueError):
            sbv2.TrustAnchors([b"\x00" * 32] * 4)
        with self.assertRaises(ValueError):
            sbv2.TrustAnchors([b"\x00" * 31])


class ForgedBlockTest(unittest.TestCase):
    """Any value in any header/key byte of a block whose CRC is made to fit
    is refused with OtaRejected, never another exception."""

    def _forge_all(self, name, key, positions):
        _h, _m, image = parts(fixture(name))
        trust = sbv2.TrustAnchors([DIGESTS[key]])
        sector = len(image) - 4096
        reasons = set()
        for i, pos in enumerate(positions):
            forged = bytearray(image)
            forged[sector + pos] = (forged[sector + pos] + 1 + (i * 37) % 255) & 0xFF  # never +0
            crc = binascii.crc32(bytes(forged[sector : sector + 1196])) & 0xFFFFFFFF
            forged[sector + 1196 : sector + 1200] = struct.pack("<I", crc)
            v = SignedImageVerifier(trust, len(image))
            v.update(forged)
            reasons.add(rejection(self, v.finish))
        return reasons

    def test_rsa_block_fields(self):
        step = 7 if IS_MICROPYTHON else 1
        reasons = self._forge_all("rsa", "rsa_a", range(0, 1196, step * 3))  # 1196..1199: the CRC itself
        # R^-1 and M' are not used by a software verifier, but they are part
        # of the key digest: a changed one makes the block another key's.
        self.assertIn("untrusted-key", reasons)
        self.assertEqual(reasons - set(("malformed", "digest", "signature", "untrusted-key")), set())

    def test_ecdsa_block_fields(self):
        step = 5 if IS_MICROPYTHON else 1
        reasons = self._forge_all("p256", "p256_a", range(0, 200, step))
        self.assertIn("signature", reasons)  # a changed point no longer verifies the signature
        self.assertEqual(reasons - set(("malformed", "digest", "signature", "untrusted-key")), set())

    def test_empty_trust_slot_keeps_revocation_bits_in_place(self):
        # Slot 0 unset, slot 1 holds the signing key: bit 1 revokes it, bit 0 does not.
        v = UpdateVerifier([None, DIGESTS["rsa_a"]], revoked_mask=1, board=BOARD, chip="esp32s3", now=NOW)
        self.assertEqual(bundle.verify_bundle(v, io.BytesIO(fixture("rsa")).read).key_slots, [1])
        v = UpdateVerifier([None, DIGESTS["rsa_a"]], revoked_mask=2, board=BOARD, chip="esp32s3", now=NOW)
        self.assertEqual(rejection(self, bundle.verify_bundle, v, io.BytesIO(fixture("rsa")).read), "revoked-key")
