"""`hushctl ota publish`: the bundle and a channel document signed by the
release keys (a key file, or the maker's key hierarchy), which the
handset's own code verifies; every publish raises the sequence; rollout
shares, halting and resuming; a bundle the publishing keys did not sign,
or bad input, is one clear line and writes nothing."""
import hashlib
import json

import pytest

from hushctl import ota_sign
from hushphone.ota import OtaRejected, channel
from hushphone.ota.sbv2 import TrustAnchors
from tests.host.provision_helpers import hushctl, ok, one_line_error, passphrase_file
from tests.sim.ota_sim import RELEASED, Signer

NOW = RELEASED + 3600


@pytest.fixture(scope="module")
def signers(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("publish")
    good, other = Signer(tmp / "good"), Signer(tmp / "other")
    return good, other, good.bundle("v2.hushota", "1.1.0", 2, 8 * 1024), other.bundle("x.hushota", "1.1.0", 2, 8192)


def publish(out, key, *args):
    return hushctl("ota", "publish", "--to", out, "--key", key, "--now", NOW, "--json", *args)


def served(out, digest, now=NOW + 60):
    return channel.verify((out / "stable.channel").read_bytes(), TrustAnchors([digest]), now)


def test_publish_rollout_halt_resume(signers, tmp_path):
    good, _other, bundle, _ = signers
    out = tmp_path / "www"
    fields = json.loads(ok(publish(out, good.key_path, bundle, "--rollout", "10%")).stdout)
    doc = served(out, good.digest)
    assert (doc.sequence, doc.halt, doc.expires) == (1, False, NOW + 30 * 86400)
    release = doc.release_for("lyrat-v4.3")
    data = bundle.read_bytes()
    assert (release.version, release.secure_version, release.rollout) == ("1.1.0", 2, 1000)
    assert (out / release.bundle).read_bytes() == data
    assert (release.sha256, release.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert fields["boards"]["lyrat-v4.3"]["rollout"] == 1000

    ok(publish(out, good.key_path, "--rollout", "2.5%"))  # the share alone
    assert (served(out, good.digest).sequence, served(out, good.digest).release_for("lyrat-v4.3").rollout) == (2, 250)
    ok(publish(out, good.key_path, "--halt"))
    doc = served(out, good.digest)
    assert (doc.sequence, doc.halt, doc.release_for("lyrat-v4.3").rollout) == (3, True, 250)
    ok(publish(out, good.key_path, "--rollout", "100"))
    doc = served(out, good.digest)
    assert (doc.sequence, doc.halt, doc.release_for("lyrat-v4.3").rollout) == (4, False, 10000)
    with pytest.raises(OtaRejected) as e:  # only the release keys count
        served(out, _other.digest)
    assert e.value.reason == "untrusted-key"
    with pytest.raises(OtaRejected) as e:
        served(out, good.digest, now=NOW + 31 * 86400)
    assert e.value.reason == "expired"


def test_bad_input_is_one_line_and_writes_nothing(signers, tmp_path):
    good, other, bundle, foreign = signers
    out = tmp_path / "www"
    one_line_error(publish(out, good.key_path, foreign), "refused under the publishing keys", "untrusted-key")
    one_line_error(publish(out, good.key_path, bundle, "--rollout", "150%"), "0% to 100%")
    one_line_error(publish(out, good.key_path, bundle, "--rollout", "ten"), "not a percentage")
    one_line_error(publish(out, good.key_path, "--rollout", "50%"), "nothing published yet")
    one_line_error(publish(out, good.key_path, bundle, "--channel", "../etc"), "channel name")
    one_line_error(hushctl("ota", "publish", bundle, "--to", out), "release keys")
    assert not (out / "stable.channel").exists() and not (out / "bundles").exists()
    ok(publish(out, good.key_path, bundle, "--sequence", "7"))
    one_line_error(publish(out, good.key_path, "--sequence", "7", "--halt"), "not above the published 7")
    assert served(out, good.digest).sequence == 7


def test_key_hierarchy_signs_the_channel(tmp_path):
    pw = passphrase_file(tmp_path)
    ok(hushctl("keys", "init", tmp_path / "k", "--passphrase-file", pw))
    meta = json.loads((tmp_path / "k" / "hierarchy.json").read_text())
    from hushctl.appimage import build_app_image
    from hushctl.keys import Hierarchy
    from hushphone.ota import manifest

    # a release signed with the hierarchy's OTA key (as `hushctl ota sign` would)
    key = Hierarchy(tmp_path / "k").ota_signing_key(0, "correct horse battery staple")
    image = ota_sign.sign_data(build_app_image("esp32", "1.1.0", 2, "hushphone", 8192), [key])
    fields = ota_sign.manifest_fields(image, ["lyrat-v4.3"], "esp32", released=RELEASED, expires=RELEASED + 86400 * 90)
    (tmp_path / "r.hushota").write_bytes(ota_sign.assemble_bundle(ota_sign.sign_data(manifest.encode(fields), [key]),
                                                                  image))
    ok(hushctl("ota", "publish", tmp_path / "r.hushota", "--to", tmp_path / "www", "--keys", tmp_path / "k",
               "--passphrase-file", pw, "--now", NOW))
    digest = bytes.fromhex(meta["ota_keys"][0]["sbv2_digest"])
    assert served(tmp_path / "www", digest).release_for("lyrat-v4.3").version == "1.1.0"
