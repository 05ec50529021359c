"""`hushctl provision`: device identity, NVS contents (simulated handset and
NVS partition images, plain and encrypted), factory image layout,
re-provisioning and revocation, and clean refusals of bad input."""
import json

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.host.provision_helpers import (PASSPHRASE, espsecure_digest, hushctl, ok, one_line_error, openssl,
                                          passphrase_file, sim_device_cert, sim_namespace, tree_snapshot, write_pem)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("prov")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    return base / "k", pw


def provision(keys, *args):
    keys_dir, pw = keys
    return hushctl("provision", "--keys", keys_dir, "--passphrase-file", pw, *args)


def verify_chain(keys_dir, cert_path, *extra):
    return openssl("verify", "-CAfile", keys_dir / "root-ca.pem", "-untrusted", keys_dir / "issuing-ca.pem",
                   *extra, cert_path, check=False)


def test_sim_handset_gets_identity_trust_and_account(keys, tmp_path):
    keys_dir, _ = keys
    server_ca = write_pem(tmp_path / "server-ca.pem", x509.load_pem_x509_certificate((keys_dir / "root-ca.pem").read_bytes()))
    (tmp_path / "sip-pw").write_text("s3cret-sip\n")
    result = ok(provision(keys, "--board", "sim", "--sim", tmp_path / "h", "--server-ca", server_ca, "--json",
                          "--sip-registrar", "sips:localhost:5061", "--sip-user", "alice",
                          "--sip-password-file", tmp_path / "sip-pw", "--sip-display", "Zoë"))
    row = json.loads(result.stdout)
    assert "s3cret-sip" not in result.stdout + result.stderr

    # Exactly the agreed files, readable with the handset's own Nvs class.
    assert sorted(p.name for p in (tmp_path / "h" / "nvs").iterdir()) == ["hush_id.json", "hush_sip.json", "hush_trust.json"]
    ident = sim_namespace(tmp_path / "h", "hush_id")
    assert sorted(ident) == ["dev_cert", "dev_key"]
    cert = x509.load_der_x509_certificate(ident["dev_cert"])
    key = serialization.load_der_private_key(ident["dev_key"], None)
    assert isinstance(key.curve, ec.SECP256R1)
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()

    # The certificate chains to the root, is a TLS client cert, and names the
    # random handset id (the inventory serial) with a random 128-bit serial.
    assert "OK" in verify_chain(keys_dir, write_pem(tmp_path / "dev.pem", cert), "-purpose", "sslclient").stdout
    cn = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert cn == row["serial"] and cn.startswith("hp-") and len(cn) == 19
    # clientAuth for SIP; serverAuth because the handset serves fleet pushes with the same identity.
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert 0 < cert.serial_number < 1 << 128 and row["cert_serial"] == "%x" % cert.serial_number

    trust = sim_namespace(tmp_path / "h", "hush_trust")
    fleet_der = x509.load_pem_x509_certificate((keys_dir / "fleet-ca.pem").read_bytes()).public_bytes(serialization.Encoding.DER)
    server_der = x509.load_pem_x509_certificate(server_ca.read_bytes()).public_bytes(serialization.Encoding.DER)
    assert trust["ca0"] == server_der
    assert trust["ca1"] == fleet_der
    assert trust["fleet_ca"] == fleet_der  # named, so the update agent never picks it by slot order
    assert trust["ota_dig0"] == espsecure_digest(keys_dir / "ota-signing-0.pub.pem", tmp_path)
    assert trust["ota_revoke"] == 0 and trust["sec_ver"] == 0
    assert sorted(trust) == ["ca0", "ca1", "fleet_ca", "ota_dig0", "ota_revoke", "sec_ver"]
    assert sim_namespace(tmp_path / "h", "hush_sip") == {
        "registrar": b"sips:localhost:5061", "user": b"alice", "password": b"s3cret-sip", "display": "Zoë".encode()}
    assert (tmp_path / "h" / "nvs").stat().st_mode & 0o077 == 0


def test_each_handset_gets_its_own_random_identity(keys, tmp_path):
    certs = []
    for i in range(2):
        ok(provision(keys, "--board", "sim", "--sim", tmp_path / str(i)))
        certs.append(sim_device_cert(tmp_path / str(i)))
    assert certs[0].subject != certs[1].subject
    assert certs[0].serial_number != certs[1].serial_number
    assert certs[0].public_key().public_numbers() != certs[1].public_key().public_numbers()


def _part(table, name):
    """The flash range of a partition, as a slice."""
    p = table.find_by_name(name)
    return slice(p.offset, p.offset + p.size)


def _firmware(tmp_path, chip="esp32"):
    from hushctl.appimage import build_app_image

    (tmp_path / "bootloader.bin").write_bytes(build_app_image(chip, "bootloader", 0, "bootloader", 2000))
    (tmp_path / "app.bin").write_bytes(build_app_image(chip, "1.4.2", 2, "hushphone", 40000))
    return tmp_path / "bootloader.bin", tmp_path / "app.bin"


def test_factory_image_layout_and_plain_nvs(keys, tmp_path):
    from esp_idf_defs.partitions import PartitionTable

    from hushctl import boards, nvs_image

    bootloader, app = _firmware(tmp_path)
    out = tmp_path / "factory.bin"
    result = ok(provision(keys, "--board", "lyrat-v4.3", "--factory-image", out, "--bootloader", bootloader,
                          "--firmware", app, "--json"))
    row = json.loads(result.stdout)
    assert row["firmware_version"] == "1.4.2" and row["chip"] == "esp32" and row["efuses_burned"] == 0
    image = out.read_bytes()
    assert len(image) == 4 * 1024 * 1024 and out.stat().st_mode & 0o077 == 0
    table = PartitionTable.from_binary(image[0x8000:0x9000])
    assert table.to_csv() == PartitionTable.from_csv(boards.get_board("lyrat-v4.3").partitions_csv).to_csv()
    app_bytes = app.read_bytes()
    assert image[0x1000:0x1000 + 100] == bootloader.read_bytes()[:100]  # merge-bin may patch flash params
    assert image[_part(table, "ota_0")][:len(app_bytes)] == app_bytes
    otadata = image[_part(table, "otadata")]
    assert otadata == b"\xff" * len(otadata)  # blank otadata: boot ota_0
    contents = nvs_image.decode(image[_part(table, "nvs")])
    cert = x509.load_der_x509_certificate(contents["hush_id"]["dev_cert"])
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == row["serial"]
    assert contents["hush_trust"]["sec_ver"] == 2  # from the app descriptor's secure_version
    assert contents["hush_trust"]["ota_dig0"] == espsecure_digest(keys[0] / "ota-signing-0.pub.pem", tmp_path)
    assert set(contents) == {"hush_id", "hush_trust"}
    nvs_keys = image[_part(table, "nvs_keys")]
    assert nvs_keys == b"\xff" * len(nvs_keys)  # no NVS keys without --encrypt-nvs


def test_encrypted_nvs_hides_the_device_key_and_decrypts_exactly(keys, tmp_path):
    from hushctl import nvs_image

    bootloader, app = _firmware(tmp_path, "esp32s3")
    out = tmp_path / "factory.bin"
    ok(provision(keys, "--board", "esp32-s3-box-3", "--factory-image", out, "--bootloader", bootloader,
                 "--firmware", app, "--encrypt-nvs"))
    from esp_idf_defs.partitions import PartitionTable

    image = out.read_bytes()
    assert len(image) == 16 * 1024 * 1024
    table = PartitionTable.from_binary(image[0x8000:0x9000])
    nvs, nvs_keys = image[_part(table, "nvs")], image[_part(table, "nvs_keys")]
    with pytest.raises(nvs_image.NvsImageError):
        nvs_image.decode(nvs)
    plain = nvs_image.decrypt(nvs, nvs_keys)
    contents = nvs_image.decode(plain)
    der_key = contents["hush_id"]["dev_key"]
    key = serialization.load_der_private_key(der_key, None)
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    assert der_key not in image and scalar not in image and scalar in plain
    assert contents["hush_id"]["dev_cert"] in plain and contents["hush_id"]["dev_cert"] not in nvs
    assert sorted(contents["hush_trust"]) == ["ca0", "fleet_ca", "ota_dig0", "ota_revoke", "sec_ver"]
    assert contents["hush_trust"]["fleet_ca"] == contents["hush_trust"]["ca0"]  # no server CA: the fleet CA alone


def test_reprovision_revokes_the_old_certificate(keys, tmp_path):
    keys_dir, _ = keys
    sim = tmp_path / "h"
    first = json.loads(ok(provision(keys, "--board", "sim", "--sim", sim, "--json")).stdout)
    old_pem = write_pem(tmp_path / "old.pem", sim_device_cert(sim))
    # Settings the user made survive re-provisioning.
    from hushphone.hal.unix.nvs import Nvs

    cfg = Nvs(str(sim), "hush_cfg")
    cfg.set_i32("ring_vol", 7)
    cfg.commit()
    second = json.loads(ok(provision(keys, "--board", "sim", "--sim", sim, "--reprovision", "--serial",
                                     first["serial"], "--json")).stdout)
    assert second["serial"] == first["serial"] and second["status"] == "reprovisioned"
    assert second["cert_fingerprint"] != first["cert_fingerprint"]
    new_pem = write_pem(tmp_path / "new.pem", sim_device_cert(sim))
    assert sim_namespace(sim, "hush_cfg") == {"ring_vol": 7}
    crl = keys_dir / "revocation" / "issuing-ca.crl.pem"
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes((keys_dir / "root-ca.pem").read_bytes() + (keys_dir / "issuing-ca.pem").read_bytes())
    revoked = openssl("verify", "-crl_check", "-CRLfile", crl, "-CAfile", bundle, old_pem, check=False)
    assert revoked.returncode != 0 and "revoked" in revoked.stdout + revoked.stderr
    assert "OK" in openssl("verify", "-crl_check", "-CRLfile", crl, "-CAfile", bundle, new_pem).stdout

    # Revoking the handset puts its current certificate on the CRL too.
    ok(hushctl("provision", "revoke", first["serial"], "--keys", keys_dir, "--passphrase-file", keys[1]))
    revoked = openssl("verify", "-crl_check", "-CRLfile", crl, "-CAfile", bundle, new_pem, check=False)
    assert revoked.returncode != 0 and "revoked" in revoked.stdout + revoked.stderr
    one_line_error(hushctl("provision", "revoke", first["serial"], "--keys", keys_dir, "--passphrase-file", keys[1]),
                   "already revoked")
    one_line_error(hushctl("provision", "revoke", "hp-nosuchhandset", "--keys", keys_dir, "--passphrase-file", keys[1]),
                   "no handset")


def test_bad_input_is_one_line_and_writes_nothing(keys, tmp_path):
    keys_dir, pw = keys
    inventory = keys_dir / "inventory.sqlite"
    taken = json.loads(ok(provision(keys, "--board", "sim", "--sim", tmp_path / "taken", "--json")).stdout)["serial"]
    before_inv = inventory.read_bytes()
    before_sim = tree_snapshot(tmp_path / "taken")
    fresh = tmp_path / "fresh"
    bootloader, app = _firmware(tmp_path)
    cases = [
        (provision(keys, "--board", "sim", "--sim", fresh, "--serial", taken), "already used"),
        (provision(keys, "--board", "no-such-board", "--sim", fresh), "unknown board"),
        (provision(keys, "--board", "sim", "--sim", tmp_path / "taken"), "already provisioned"),
        (hushctl("provision", "--keys", keys_dir, "--board", "sim", "--sim", fresh, process=True), "passphrase"),
        (hushctl("provision", "--keys", keys_dir, "--board", "sim", "--sim", fresh,
                 "--passphrase-file", passphrase_file(tmp_path, "wrong passphrase")), "wrong passphrase"),
        (provision(keys, "--board", "sim", "--sim", fresh, "--serial", "Bad Serial!"), "bad serial"),
        (provision(keys, "--board", "sim", "--sim", fresh, "--reprovision", "--serial", "hp-unknown0"), "no handset"),
        (provision(keys, "--board", "lyrat-v4.3", "--factory-image", tmp_path / "f.bin"), "--bootloader"),
        (provision(keys, "--board", "lyrat-v4.3", "--factory-image", "/proc/no/such/f.bin", "--bootloader", bootloader,
                   "--firmware", app), "cannot write /proc/no/such/f.bin"),
        (hushctl("provision", "--keys", tmp_path / "nokeys", "--board", "sim", "--sim", fresh,
                 env={"HUSHCTL_PASSPHRASE": PASSPHRASE}), "no key hierarchy"),
    ]
    for result, fragment in cases:
        one_line_error(result, fragment)
    assert not fresh.exists() and not (tmp_path / "f.bin").exists()
    assert tree_snapshot(tmp_path / "taken") == before_sim
    assert inventory.read_bytes() == before_inv


def test_board_table_reads_board_json(tmp_path):
    from hushctl import boards
    from hushctl.errors import HushctlError

    (tmp_path / "lyrat-v4.3").mkdir()
    (tmp_path / "lyrat-v4.3" / "board.json").write_text('{"flash_size": "8MB"}')
    (tmp_path / "newboard").mkdir()
    (tmp_path / "newboard" / "board.json").write_text('{"chip": "esp32s3", "flash_size": "16MB", "partition_table": "p.csv"}')
    (tmp_path / "newboard" / "p.csv").write_text("nvs, data, nvs, 0x9000, 0x6000,\n")
    lyrat = boards.get_board("lyrat-v4.3", tmp_path)
    assert (lyrat.chip, lyrat.flash_size) == ("esp32", "8MB")  # the folder overrides, the table fills in
    new = boards.get_board("newboard", tmp_path)
    assert (new.chip, new.bootloader_offset, new.partitions_csv) == ("esp32s3", 0, "nvs, data, nvs, 0x9000, 0x6000,\n")
    assert "newboard" in boards.board_names(tmp_path)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "board.json").write_text('{"chip": "esp8266", "flash_size": "4MB"}')
    with pytest.raises(HushctlError, match="needs a chip"):
        boards.get_board("bad", tmp_path)
    with pytest.raises(HushctlError, match="unknown board"):
        boards.get_board("nothing", tmp_path)
