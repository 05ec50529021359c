"""eFuse provisioning against espefuse's virtual eFuses (real espefuse in
subprocesses): key digests equal espsecure's, the flash-encryption key is
burned and read-protected, SECURE_VERSION is set, a dry run changes nothing,
and conflicting or repeated runs are refused before anything burns."""
import json

import pytest

from tests.host.provision_helpers import (espsecure_digest, hushctl, ok, one_line_error, passphrase_file, tool)

BOARDS = {"esp32": "lyrat-v4.3", "esp32s3": "esp32-s3-korvo-2"}


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    base = tmp_path_factory.mktemp("efuse")
    pw = passphrase_file(base)
    ok(hushctl("keys", "init", base / "k", "--passphrase-file", pw))
    ok(hushctl("keys", "init", base / "other", "--passphrase-file", pw))
    return base, pw


def summary(chip, efuse_file, tmp_path):
    out = tmp_path / "summary.json"
    tool("espefuse", "--chip", chip, "--virt", "--path-efuse-file", efuse_file, "summary", "--format", "json",
         "--file", out)
    return json.loads(out.read_text())


def block_hex(summary, name):
    return summary[name]["value"].replace(" ", "")


def provision(keys, keys_name, chip, efuse_file, *args):
    base, pw = keys
    return hushctl("provision", "--keys", base / keys_name, "--passphrase-file", pw, "--board", BOARDS[chip],
                   "--virtual-efuses", efuse_file, "--secure-version", "3", *args)


@pytest.mark.parametrize("chip", ["esp32", "esp32s3"])
def test_dry_run_burns_nothing_then_burn_then_conflicts_are_refused(keys, tmp_path, chip):
    base, _ = keys
    efuse_file = tmp_path / ("%s-efuses.bin" % chip)
    digest = espsecure_digest(base / "k" / "ota-signing-0.pub.pem", tmp_path).hex()

    # Dry run: prints the exact commands, burns nothing, creates no file.
    dry = ok(provision(keys, "k", chip, efuse_file))
    assert "dry run" in dry.stdout and "espefuse --chip %s --virt --path-efuse-file" % chip in dry.stdout
    assert "burn-key-digest" in dry.stdout and "never stored" in dry.stdout
    assert not efuse_file.exists()
    # The same dry run against an existing eFuse file leaves it byte-identical.
    tool("espefuse", "--chip", chip, "--virt", "--path-efuse-file", efuse_file, "summary")
    before = efuse_file.read_bytes()
    ok(provision(keys, "k", chip, efuse_file, "--serial", "hp-dryrun0002"))
    assert efuse_file.read_bytes() == before

    # Burning without --yes and without a terminal asks and aborts cleanly.
    one_line_error(provision(keys, "k", chip, efuse_file, "--burn-efuses"), "--yes")
    assert efuse_file.read_bytes() == before

    burned = ok(provision(keys, "k", chip, efuse_file, "--burn-efuses", "--yes", "--json"))
    row = json.loads(burned.stdout)
    assert row["efuses_burned"] == 1 and row["key_digests"] == digest
    s = summary(chip, efuse_file, tmp_path)
    secure_version = int(s["SECURE_VERSION"]["raw_value"], 16)
    assert bin(secure_version).count("1") == 3  # counted in set bits, as the bootloader reads it
    if chip == "esp32":
        assert block_hex(s, "BLOCK2") == digest and not s["BLOCK2"]["writeable"]
        assert not s["BLOCK1"]["readable"] and not s["BLOCK1"]["writeable"]  # flash-encryption key
        assert s["ABS_DONE_1"]["value"] is True and s["JTAG_DISABLE"]["value"] is True
        assert s["DISABLE_DL_ENCRYPT"]["value"] is True and s["DISABLE_DL_DECRYPT"]["value"] is True
    else:
        assert s["KEY_PURPOSE_1"]["value"] == "SECURE_BOOT_DIGEST0"
        assert block_hex(s, "BLOCK_KEY1") == digest and not s["BLOCK_KEY1"]["writeable"]
        assert s["KEY_PURPOSE_0"]["value"] == "XTS_AES_128_KEY"
        assert not s["BLOCK_KEY0"]["readable"] and not s["BLOCK_KEY0"]["writeable"]
        assert s["SECURE_BOOT_EN"]["value"] is True and s["ENABLE_SECURITY_DOWNLOAD"]["value"] is True
        assert s["SECURE_BOOT_KEY_REVOKE1"]["value"] is True and s["SECURE_BOOT_KEY_REVOKE2"]["value"] is True
        assert s["DIS_PAD_JTAG"]["value"] is True
    after_burn = efuse_file.read_bytes()

    # Same chip again: already provisioned. Another hierarchy: a conflicting
    # key digest. A lower secure version: the floor cannot go down. Each is
    # refused before anything burns.
    one_line_error(provision(keys, "k", chip, efuse_file, "--burn-efuses", "--yes"), "already provisioned")
    one_line_error(provision(keys, "other", chip, efuse_file, "--burn-efuses", "--yes"), "different secure boot key digest")
    one_line_error(provision(keys, "k", chip, efuse_file, "--burn-efuses", "--yes", "--reprovision", "--serial",
                             row["serial"], "--secure-version", "1"), "higher than the requested 1")
    assert efuse_file.read_bytes() == after_burn

    # Re-provisioning the same handset keeps the burned values (nothing to burn).
    again = ok(provision(keys, "k", chip, efuse_file, "--burn-efuses", "--yes", "--reprovision", "--serial", row["serial"]))
    plan = again.stdout.split("eFuse plan")[1]
    assert "[done]" in plan and "[burn]" not in plan and "$ " not in plan
    assert efuse_file.read_bytes() == after_burn


def test_three_digests_on_esp32s3_and_one_on_esp32(tmp_path, keys):
    base, pw = keys
    ok(hushctl("keys", "init", tmp_path / "k3", "--ota-keys", "3", "--passphrase-file", pw))
    efuse_file = tmp_path / "s3.bin"
    ok(hushctl("provision", "--keys", tmp_path / "k3", "--passphrase-file", pw, "--board", "esp32-s3-box-3",
               "--virtual-efuses", efuse_file, "--burn-efuses", "--yes"))
    s = summary("esp32s3", efuse_file, tmp_path)
    for i in range(3):
        digest = espsecure_digest(tmp_path / "k3" / ("ota-signing-%d.pub.pem" % i), tmp_path).hex()
        block = [b for b in range(6) if s["KEY_PURPOSE_%d" % b]["value"] == "SECURE_BOOT_DIGEST%d" % i]
        assert len(block) == 1 and block_hex(s, "BLOCK_KEY%d" % block[0]) == digest
        assert s["SECURE_BOOT_KEY_REVOKE%d" % i]["value"] is False
    one_line_error(hushctl("provision", "--keys", tmp_path / "k3", "--passphrase-file", pw, "--board", "lyrat-v4.3",
                           "--virtual-efuses", tmp_path / "e32.bin"), "holds one Secure Boot V2 key digest")
    assert not (tmp_path / "e32.bin").exists()


def test_sim_board_has_no_efuses(keys, tmp_path):
    base, pw = keys
    one_line_error(hushctl("provision", "--keys", base / "k", "--passphrase-file", pw, "--board", "sim", "--sim",
                           tmp_path / "h", "--virtual-efuses", tmp_path / "e.bin"), "no flash or eFuses")
