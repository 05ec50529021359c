"""Provisioning one handset: its identity (key, certificate, random handset
id), its trust anchors and optional SIP account in NVS, and its eFuses.

The order keeps failures clean: everything is checked and generated in a
temporary directory first (wrong passphrase, used serial, unknown board,
already provisioned, eFuse conflicts all stop here); then, inside one
inventory transaction, the handset is flashed, eFuses burn (only with
--burn-efuses), output files are renamed into place, and the row commits."""
import base64
import datetime
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from cryptography import x509

from hushphone import storage_layout as layout
from hushphone.hal.unix.nvs import Nvs, namespace_path, read_namespace

from hushctl import atomic_files, efuses, flashing, fsimage, keys, nvs_image, pki, stock_release
from hushctl.errors import HushctlError
from hushctl.inventory import Inventory

DEVICE_CERT_DAYS = 15 * 365
_SERIAL_RE = re.compile(r"^[a-z0-9][a-z0-9-]{3,39}$")


class ProvisionError(HushctlError):
    pass


def new_handset_id():
    """A random handset id: 80 random bits, not derived from MAC or chip."""
    return "hp-" + base64.b32encode(os.urandom(10)).decode().lower()


def check_serial(serial):
    if not _SERIAL_RE.match(serial or ""):
        raise ProvisionError("bad serial %r: 4-40 lower-case letters, digits and '-'" % serial)
    return serial


def default_inventory(keys_dir):
    return Path(keys_dir) / "inventory.sqlite"


class Options:
    """Everything `hushctl provision` takes (see commands/provision.py)."""

    def __init__(self, keys_dir, passphrase, board, **kw):
        self.keys_dir = Path(keys_dir)
        self.passphrase = passphrase
        self.board = board
        # a SQLite path or a postgresql:// URL (a Path would mangle the URL)
        self.inventory = str(kw.pop("inventory", None) or default_inventory(keys_dir))
        self.serial = kw.pop("serial", None)
        self.reprovision = kw.pop("reprovision", False)
        self.sim_dir = kw.pop("sim_dir", None)
        self.factory_image = kw.pop("factory_image", None)
        self.port = kw.pop("port", None)
        self.write_flash = kw.pop("write_flash", False)
        self.bootloader = kw.pop("bootloader", None)
        self.firmware = kw.pop("firmware", None)
        self.firmware_version = kw.pop("firmware_version", None)
        self.micropython_image = kw.pop("micropython_image", None)
        self.fs_build = kw.pop("fs_build", None)
        self.encrypt_nvs = kw.pop("encrypt_nvs", False)
        self.server_cas = list(kw.pop("server_cas", ()))
        self.sip = dict(kw.pop("sip", {}) or {})
        self.virtual_efuses = kw.pop("virtual_efuses", None)
        self.burn_efuses = kw.pop("burn_efuses", False)
        self.secure_version = kw.pop("secure_version", None)
        self.secure_boot = kw.pop("secure_boot", True)
        self.disable_jtag = kw.pop("disable_jtag", True)
        self.download_mode = kw.pop("download_mode", "secure")
        self.cert_days = kw.pop("cert_days", DEVICE_CERT_DAYS)
        if kw:
            raise TypeError("unknown options: %s" % ", ".join(sorted(kw)))


def _read(path, what):
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise ProvisionError("cannot read %s %s: %s" % (what, path, e.strerror))


def _sim_identity(sim_dir):
    ident = read_namespace(str(sim_dir), layout.NS_IDENTITY)
    return ident.get(layout.KEY_DEV_CERT)


def nvs_contents(hierarchy, device_key, device_cert, server_cas, sip, secure_version):
    """{namespace: {key: int | bytes}} exactly as the handset will hold it."""
    identity = {layout.KEY_DEV_KEY: pki.key_der_pkcs8(device_key), layout.KEY_DEV_CERT: pki.cert_der(device_cert)}
    cas = list(server_cas) + [hierarchy.cert(keys.FLEET)]
    if len(cas) > layout.MAX_CA:
        raise ProvisionError("at most %d trusted CA certificates fit" % layout.MAX_CA)
    trust = {layout.ca_key(i): pki.cert_der(c) for i, c in enumerate(cas)}
    # Named too: the update agent accepts pushes from this CA alone, never
    # picks it by slot order (hushphone.ota.handset_agent.fleet_ca).
    trust[layout.KEY_FLEET_CA] = pki.cert_der(hierarchy.cert(keys.FLEET))
    for i, digest in enumerate(hierarchy.ota_digests()):
        trust[layout.ota_digest_key(i)] = digest
    trust[layout.KEY_OTA_REVOKE] = 0
    trust[layout.KEY_SEC_VER] = int(secure_version)
    revoked = keys.technician_revocation_list(hierarchy=hierarchy)
    if revoked:
        trust[layout.KEY_TECH_REVOKED] = revoked
    contents = {layout.NS_IDENTITY: identity, layout.NS_TRUST: trust}
    account = {k: v.encode("utf-8") for k, v in sip.items() if v}
    if account:
        contents[layout.NS_SIP] = account
    return contents


def _stage_sim(sim_dir, contents, staging):
    """Build the simulated handset's new nvs/ directory in `staging` with the
    handset's own Nvs class: other namespaces (settings) are kept, the
    provisioned ones replaced whole."""
    old = Path(sim_dir) / "nvs"
    if old.is_dir():
        shutil.copytree(old, staging / "nvs")
    for namespace in (layout.NS_IDENTITY, layout.NS_TRUST) + ((layout.NS_SIP,) if layout.NS_SIP in contents else ()):
        path = Path(namespace_path(str(staging), namespace))
        if path.exists():
            path.unlink()
    for namespace, entries in contents.items():
        nvs = Nvs(str(staging), namespace)
        for key, value in entries.items():
            if isinstance(value, int):
                nvs.set_i32(key, value)
            else:
                nvs.set_blob(key, value)
        nvs.commit()


def _install_sim(sim_dir, staging):
    sim_dir = Path(sim_dir)
    sim_dir.mkdir(parents=True, exist_ok=True)
    target = sim_dir / "nvs"
    old = None
    if target.exists():
        old = sim_dir / (".nvs-old-%s" % os.urandom(4).hex())
        os.rename(target, old)
    os.chmod(staging / "nvs", 0o700)  # it holds the device's private key
    os.rename(staging / "nvs", target)
    if old is not None:
        shutil.rmtree(old)


_STOCK_PARTS = {"vfs": "root filesystem (loader, boot.py, main.py) -> vfs",
                "hush_0": "firmware image -> hush_0", "hushsel": "image selection (hush_0, VALID) -> hushsel"}


def _stock_images(opts, board):
    """A stock MicroPython release and the Hushphone images for it (the
    output directory of hushctl firmware build), checked against each other,
    the board and its stock partition table before anything is made.
    Returns the release and {partition name: bytes}."""
    if not (opts.micropython_image and opts.fs_build):
        raise ProvisionError("the stock MicroPython path needs both --micropython-image and --fs-build")
    if opts.firmware or opts.bootloader:
        raise ProvisionError("--micropython-image brings its own bootloader and app: drop --firmware/--bootloader")
    if board.is_sim:
        raise ProvisionError("a simulated handset has no flash: --micropython-image is for a real board")
    if opts.secure_boot and (opts.port or opts.virtual_efuses):
        raise ProvisionError("a stock MicroPython release is not signed, so Secure Boot V2 would refuse to boot it: "
                             "add --no-secure-boot, or build the frozen firmware")
    fsimage.check_board(board, 0)
    stock = stock_release.split(_read(opts.micropython_image, "MicroPython image"), board)
    layout_ = fsimage.stock_layout(board)
    app_part = flashing.app_partition(layout_)
    if len(stock.app) > app_part.size:
        raise ProvisionError("the MicroPython app (%d bytes) does not fit the %d-byte %s partition"
                             % (len(stock.app), app_part.size, app_part.name))
    build_dir = Path(opts.fs_build)
    root = _read(build_dir / "vfs.bin", "root filesystem image")
    image = _read(build_dir / "hush.bin", "firmware image")
    for name, data, want in (("vfs.bin", root, layout_.partition("vfs").size),
                             ("hush.bin", image, layout_.partition("hush_0").size - fsimage.BLOCK_SIZE)):
        if len(data) != want:
            raise ProvisionError("%s is %d bytes, board %s takes %d: build it with hushctl firmware build --board %s"
                                 % (name, len(data), board.name, want, board.name))
    try:
        files = fsimage.read_image(image)
        meta = json.loads(files[fsimage.MANIFEST_NAME])
        fsimage.read_image(root)
    except Exception:
        raise ProvisionError("%s does not hold Hushphone filesystem images (hushctl firmware build)" % build_dir)
    if meta.get("board") != board.name:
        raise ProvisionError("the filesystem image is for board %s, not %s" % (meta.get("board"), board.name))
    if meta.get("micropython") != "%d.%d" % stock.release:
        raise ProvisionError("the filesystem image is built for MicroPython %s, the app is %s: build it with "
                             "--micropython %d.%d" % ((meta.get("micropython"), stock.version) + stock.release))
    return stock, fsimage.factory_partitions(root, image, layout_)


def write_device_crl(hierarchy, inventory, issuing_key):
    revoked = [(int(r["cert_serial"], 16), datetime.datetime.fromisoformat(r["revoked_at"])) for r in inventory.revoked_certs()]
    crl = pki.make_crl(hierarchy.cert(keys.ISSUING), issuing_key, revoked)
    path = hierarchy.path(keys.REVOCATION_DIR) / keys.DEVICE_CRL
    atomic_files.write_bytes(path, pki.crl_pem(crl))
    return path


def provision(opts, echo, confirm):
    """Provision one handset; returns its inventory row. `echo(text)` prints,
    `confirm(question)` returns True to go ahead with burning eFuses."""
    board = opts.board
    hierarchy = keys.Hierarchy(opts.keys_dir)
    issuing_cert = hierarchy.cert(keys.ISSUING)
    issuing_key = hierarchy.key(keys.ISSUING, opts.passphrase)
    if not (opts.sim_dir or opts.factory_image or opts.port or opts.virtual_efuses):
        raise ProvisionError("nothing to provision: give --sim DIR, --factory-image OUT.bin, --port or --virtual-efuses")
    if board.is_sim and (opts.virtual_efuses or opts.burn_efuses or opts.port or opts.factory_image):
        raise ProvisionError("a simulated handset has no flash or eFuses (its anti-rollback floor is NVS sec_ver): "
                             "use --sim DIR")
    if board.is_sim and not opts.sim_dir:
        raise ProvisionError("board 'sim' is provisioned with --sim DIR")
    if opts.sim_dir and not board.is_sim:
        raise ProvisionError("--sim needs --board sim")
    efuse_target = None
    if opts.burn_efuses and not (opts.virtual_efuses or opts.port):
        raise ProvisionError("--burn-efuses needs --port or --virtual-efuses")
    if opts.virtual_efuses or opts.port:
        # A real chip on --port gets the same plan; it is only read unless --burn-efuses.
        efuse_target = efuses.Target(board.chip, port=None if opts.virtual_efuses else opts.port,
                                     virtual_file=opts.virtual_efuses)

    inventory = Inventory(opts.inventory)
    try:
        return _provision(opts, board, hierarchy, issuing_cert, issuing_key, inventory, efuse_target, echo, confirm)
    finally:
        inventory.close()


def _provision(opts, board, hierarchy, issuing_cert, issuing_key, inventory, efuse_target, echo, confirm):
    # --- checks: nothing is written before all of them pass -----------------
    previous = None
    if opts.reprovision:
        if not opts.serial:
            raise ProvisionError("--reprovision needs --serial of the handset")
        previous = inventory.require(check_serial(opts.serial))
        serial = opts.serial
    else:
        serial = check_serial(opts.serial) if opts.serial else new_handset_id()
        if inventory.get(serial) is not None:
            raise ProvisionError("serial %s is already used by a provisioned handset" % serial)
    if opts.sim_dir:
        current = _sim_identity(opts.sim_dir)
        if current is not None and not opts.reprovision:
            raise ProvisionError("the handset in %s is already provisioned (use --reprovision --serial ID)" % opts.sim_dir)
        if current is not None:
            cn = x509.load_der_x509_certificate(current).subject.get_attributes_for_oid(
                x509.oid.NameOID.COMMON_NAME)[0].value
            if cn != serial:
                raise ProvisionError("the handset in %s is %s, not %s" % (opts.sim_dir, cn, serial))
    needs_images = bool(opts.factory_image or opts.port)
    firmware = bootloader = stock = fs_parts = None
    if opts.micropython_image or opts.fs_build:
        stock, fs_parts = _stock_images(opts, board)
    if needs_images and stock is not None:
        firmware, bootloader = stock.app, stock.bootloader
    elif needs_images:
        if not (opts.firmware and opts.bootloader):
            raise ProvisionError("flashing needs --bootloader and --firmware images")
        firmware = _read(opts.firmware, "firmware")
        bootloader = _read(opts.bootloader, "bootloader")
    desc = flashing.app_version(firmware) if firmware else None
    firmware_version = opts.firmware_version or ("MicroPython %s + Hushphone image" % stock.version if stock else None) \
        or (desc[0] if desc else "unknown")
    secure_version = opts.secure_version if opts.secure_version is not None else (desc[1] if desc else 0)
    if not 0 <= secure_version <= (32 if board.chip == "esp32" else 16):
        raise ProvisionError("secure version %d does not fit this chip's SECURE_VERSION eFuse" % secure_version)
    server_cas = [pki.load_cert_pem(_read(p, "server CA"), str(p)) for p in opts.server_cas]
    if opts.factory_image:
        atomic_files.check_writable(opts.factory_image)
    if opts.sim_dir:
        atomic_files.check_writable(opts.sim_dir, directory=True)
    if efuse_target is not None and hierarchy.meta["ota_scheme"] not in keys.CHIP_OTA_SCHEMES[board.chip]:
        raise ProvisionError("%s Secure Boot V2 takes %s keys, the hierarchy has %s" % (
            board.chip, "/".join(keys.CHIP_OTA_SCHEMES[board.chip]), hierarchy.meta["ota_scheme"]))

    with tempfile.TemporaryDirectory(prefix="hush-provision-") as tmp:
        tmp = Path(tmp)
        steps = []
        if efuse_target is not None:
            flash_key_file = tmp / "flash-encryption-key.bin"
            atomic_files.write_secret(flash_key_file, os.urandom(32))
            summary = efuse_target.read_summary()
            ota_pubs = [hierarchy.ota_public_key_path(i) for i in range(len(hierarchy.ota_keys))]
            steps = efuses.plan(efuse_target, summary, hierarchy.ota_digests(), ota_pubs, flash_key_file,
                                secure_version, opts.secure_boot, opts.disable_jtag, opts.download_mode)
            digest_done = any(s.state == "done" and "digest" in s.title for s in steps)
            if digest_done and not opts.reprovision:
                raise ProvisionError("this handset is already provisioned (its secure boot key digest is burned)")

        # --- generate --------------------------------------------------------
        device_key = pki.new_ec_key("P-256")
        device_cert = pki.make_client_cert(serial, device_key.public_key(), opts.cert_days, issuing_cert, issuing_key,
                                           san_uri="urn:hushphone:handset:%s" % serial, server_auth=True)
        contents = nvs_contents(hierarchy, device_key, device_cert, server_cas, opts.sip, secure_version)
        fingerprint = pki.cert_fingerprint(device_cert)
        echo("Handset %s (board %s, chip %s)" % (serial, board.name, board.chip))
        echo("  certificate SHA-256 %s" % fingerprint)

        flash_cmd = None
        if needs_images:
            layout_ = fsimage.stock_layout(board) if stock else flashing.Layout(board.partitions_csv)
            nvs_part = layout_.partition("nvs")
            nvs_keys = nvs_image.new_encryption_keys() if opts.encrypt_nvs else None
            files = {"partition-table.bin": layout_.table_binary(),
                     "otadata.bin": b"\xff" * layout_.partition("otadata").size,
                     "nvs.bin": nvs_image.generate(contents, nvs_part.size, nvs_keys),
                     "bootloader.bin": bootloader, "firmware.bin": firmware}
            if nvs_keys is not None:
                files["nvs_keys.bin"] = nvs_keys
            extra = []
            for name, data in sorted((fs_parts or {}).items()):
                files[name + ".bin"] = data
                extra.append((name, _STOCK_PARTS[name], tmp / (name + ".bin")))
            for name, data in files.items():
                atomic_files.write_secret(tmp / name, data)
            items = flashing.flash_items(board, layout_, tmp / "bootloader.bin", tmp / "partition-table.bin",
                                         tmp / "firmware.bin", tmp / "nvs.bin", tmp / "otadata.bin",
                                         tmp / "nvs_keys.bin" if nvs_keys is not None else None,
                                         extra=extra)
            echo("  flash layout:")
            for offset, what, _ in items:
                echo("    0x%06x  %s" % (offset, what))
            if opts.factory_image:
                staged_image = tmp / "factory.bin"
                flashing.run(flashing.merge_bin_command(board, staged_image, items))
            if opts.port:
                flash_cmd = flashing.write_flash_command(board, opts.port, items)
        staged_sim = None
        if opts.sim_dir:
            staged_sim = tmp / "sim"
            staged_sim.mkdir()
            _stage_sim(opts.sim_dir, contents, staged_sim)

        # --- show the plan; irreversible steps need a yes ---------------------
        todo = [s for s in steps if s.state == "todo"]
        if efuse_target is not None:
            echo("  eFuse plan (%s):" % ("will burn" if opts.burn_efuses else "dry run, nothing burns"))
            for s in steps:
                echo("    [%s] %s" % ("burn" if s.state == "todo" else "done", s.title))
                if s.state == "todo" and not opts.burn_efuses:
                    echo("          $ %s" % efuses.command_line(efuse_target, s))
            if opts.burn_efuses and todo and not confirm("Burn %d eFuse step(s)? This cannot be undone." % len(todo)):
                raise ProvisionError("eFuse burning not confirmed: nothing was written")
        if flash_cmd and not opts.write_flash:
            echo("  flash (dry run; add --write-flash):\n    $ %s" % flashing.shell_line(flash_cmd))

        # --- do it: one inventory transaction ----------------------------------
        now = pki.utcnow().isoformat()
        burned = opts.burn_efuses and efuse_target is not None
        writes = opts.sim_dir or opts.factory_image or (flash_cmd and opts.write_flash) or burned
        row = {
            "serial": serial, "board": board.name, "chip": board.chip,
            "cert_serial": "%x" % device_cert.serial_number, "cert_fingerprint": fingerprint,
            "key_digests": ",".join(d.hex() for d in hierarchy.ota_digests()) if burned else "",
            "efuses_burned": 1 if burned else 0, "firmware_version": firmware_version,
            "provisioned_at": now, "status": "reprovisioned" if previous else "provisioned", "revoked_at": None,
        }
        if not writes:
            echo("  dry run: nothing was written, the inventory is unchanged")
            row["status"] = "dry-run"
            return row
        with inventory.transaction():
            if previous:
                inventory.revoke_cert(serial, previous["cert_serial"], previous["cert_fingerprint"], now, "superseded")
                changes = dict(row)
                del changes["serial"]
                if not burned:  # keep what an earlier run burned
                    changes["key_digests"] = previous["key_digests"]
                    changes["efuses_burned"] = previous["efuses_burned"]
                inventory.update(serial, **changes)
            else:
                inventory.add(row)
            if flash_cmd and opts.write_flash:
                echo("  flashing over %s\n    $ %s" % (opts.port, flashing.shell_line(flash_cmd)))
                flashing.run(flash_cmd)
            if burned:
                efuses.burn(efuse_target, steps, echo)
            if previous:
                echo("  old certificate %s revoked; CRL %s" % (
                    previous["cert_serial"], write_device_crl(hierarchy, inventory, issuing_key)))
            if opts.factory_image:
                atomic_files.write_secret(opts.factory_image, staged_image.read_bytes())
                echo("  factory image %s (holds the device key: handle as a secret)" % opts.factory_image)
            if staged_sim is not None:  # last: swapping the storage is the point of no return
                _install_sim(opts.sim_dir, staged_sim)
                echo("  simulated handset storage %s/nvs" % opts.sim_dir)
        return inventory.get(serial)


def revoke(keys_dir, passphrase, serial, inventory_path=None, reason="revoked"):
    """Revoke a handset's certificate: inventory status and the device CRL."""
    hierarchy = keys.Hierarchy(keys_dir)
    issuing_key = hierarchy.key(keys.ISSUING, passphrase)
    inventory = Inventory(inventory_path or default_inventory(keys_dir))
    try:
        row = inventory.require(check_serial(serial))
        if row["status"] == "revoked":
            raise ProvisionError("handset %s is already revoked" % serial)
        now = pki.utcnow().isoformat()
        with inventory.transaction():
            inventory.revoke_cert(serial, row["cert_serial"], row["cert_fingerprint"], now, reason)
            inventory.update(serial, status="revoked", revoked_at=now)
            path = write_device_crl(hierarchy, inventory, issuing_key)
        return inventory.get(serial), path
    finally:
        inventory.close()
