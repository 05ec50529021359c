# Pulled updates: the handset checks a signed channel document on any static
# HTTPS host (nginx, a CDN, object storage) at a configured, jittered
# interval and installs what it names for this board, so handsets behind
# NAT or switched off during a push still update.
#
# Privacy: every request is the same from every handset (http_client's
# request_head: no serial, no cookie, no User-Agent). Whether this handset
# is in a staged rollout is decided here, from a seed drawn on the handset
# and kept in NVS; the seed and the bucket never leave it.
# Safety: the document is verified with the handset's OTA trust store (the
# release keys' signature scheme, as for manifests); an expired one, or one
# with a lower sequence than the highest seen (a replay of an older
# document, e.g. from before a halt), is refused. The bundle then goes
# through BundleDownload (HTTP Range resume) and the usual Updater and
# verifier; nothing is installed while a call is up. After the install the
# board reboots (on_updated) and the new firmware confirms itself after its
# self-test as every update does (ota/confirm.py), or is rolled back; a
# release rolled back here is not installed again.
try:
    import asyncio
except ImportError:
    import uasyncio as asyncio

from hushphone.crypto import random as _random
from hushphone.crypto.sha import sha256
from hushphone.ota import OtaRejected, channel, history
from hushphone.ota.http_client import BundleDownload, DownloadError, fetch
from hushphone.ota.truststore import TrustStore
from hushphone.storage_layout import KEY_CHAN_NAME, KEY_CHAN_SEQ, KEY_ROLL_SEED, MAX_CA, ca_key, is_missing

DEFAULT_INTERVAL = 6 * 3600  # seconds between checks
MIN_INTERVAL = 60
# Settings (NVS hush_cfg) on a handset; the simulation's JSON config has
# {"ota_pull": {"url": ..., "interval": ..., "jitter": ..., "ca_der": path}}.
KEY_PULL_URL = "pull_url"  # blob: the channel document's https:// URL; unset: pulling is off
KEY_PULL_EVERY = "pull_every"  # i32: seconds between checks
_SEED_LEN = 16
_CALL_POLL = 30  # seconds between looks at a call that holds up a reboot
_MAX_CALL_WAIT = 24 * 3600


class PullState:
    """What the handset remembers between checks, in NVS (hush_pull): the
    highest channel sequence accepted and its rollout seed."""

    def __init__(self, nvs, random_bytes=_random.random_bytes):
        self.nvs = nvs
        self.random_bytes = random_bytes

    def _channel(self):
        buf = bytearray(64)
        try:
            return bytes(buf[: self.nvs.get_blob(KEY_CHAN_NAME, buf)]).decode()
        except OSError as e:
            if is_missing(e):
                return None
            raise

    def sequence(self, channel_name):
        """The highest sequence accepted on this channel (0: none yet)."""
        if self._channel() != channel_name:
            return 0
        try:
            return self.nvs.get_i32(KEY_CHAN_SEQ)
        except OSError as e:
            if is_missing(e):
                return 0
            raise

    def accept_sequence(self, channel_name, sequence):
        """Refuse a document older than one already accepted on its channel;
        remember a newer one (a document seen again is fine: the host
        serves it until the next publish)."""
        seen = self.sequence(channel_name)
        if sequence < seen:
            raise OtaRejected("replayed", "channel document sequence %d is below %d, already seen" % (sequence, seen))
        if sequence > seen:
            if self._channel() != channel_name:
                self.nvs.set_blob(KEY_CHAN_NAME, channel_name.encode())
            self.nvs.set_i32(KEY_CHAN_SEQ, sequence)
            self.nvs.commit()

    def seed(self):
        buf = bytearray(_SEED_LEN)
        try:
            if self.nvs.get_blob(KEY_ROLL_SEED, buf) == _SEED_LEN:
                return bytes(buf)
        except OSError as e:
            if not is_missing(e):
                raise
        seed = bytes(self.random_bytes(_SEED_LEN))
        self.nvs.set_blob(KEY_ROLL_SEED, seed)
        self.nvs.commit()
        return seed

    def bucket(self, release):
        """This handset's place (0..9999) in the rollout of one release: the
        same for every document naming that release, so a share that grows
        keeps the handsets it already had; another release draws anew."""
        d = sha256(self.seed() + ("%s|%s|%d" % (release.board, release.version, release.secure_version)).encode())
        return ((d[0] << 24) | (d[1] << 16) | (d[2] << 8) | d[3]) % channel.ROLLOUT_ALL


class PullClient:
    """One channel on one handset. check() looks once and installs if the
    channel says so; it never raises for the network or a refused document,
    it returns a result dict ("status" and details), also kept in `last`.

    service: the OtaService; state_nvs: NVS namespace hush_pull; url: the
    channel document's https:// URL; ssl_context: verifies the update host
    (CERT_REQUIRED, its CA loaded); call_active(): True while a call is up;
    channel_name: the channel this handset follows (default: the URL's
    file name, as `hushctl ota publish` names it: stable.channel ->
    "stable"); a document for another channel, signed all the same, is
    refused (a beta release served in place of stable)."""

    def __init__(self, service, state_nvs, url, ssl_context, call_active=None, log=None, timeout=30, attempts=5,
                 random_bytes=_random.random_bytes, channel_name=None):
        self.service = service
        self.channel_name = channel_name or channel_of_url(url)
        self.state = PullState(state_nvs, random_bytes)
        self.url = url
        self.ssl_context = ssl_context
        self.call_active = call_active or (lambda: False)
        self.log = log
        self.timeout = timeout
        self.attempts = attempts
        self.last = None
        self.download = None  # the last BundleDownload (its Range requests, for diagnostics)

    def _done(self, status, **fields):
        fields["status"] = status
        self.last = fields
        if self.log:
            self.log("ota pull: %s %s" % (status, fields.get("message") or fields.get("version") or ""))
        return fields

    async def check(self):
        self.download = None
        try:
            signed = await fetch(self.url, self.ssl_context, channel.MAX_SIGNED_SIZE, self.timeout)
        except (DownloadError, OSError, asyncio.TimeoutError, ValueError) as e:
            return self._done("failed", reason="network", message="channel: %s" % (e,))
        try:
            doc = channel.verify(signed, TrustStore.load(self.service.trust_nvs).anchors(), self.service.clock())
            if self.channel_name is not None and doc.channel != self.channel_name:
                raise OtaRejected("channel", "document is for channel %r, this handset follows %r"
                                  % (doc.channel, self.channel_name))
            self.state.accept_sequence(doc.channel, doc.sequence)
        except OtaRejected as e:
            return self._done("refused", reason=e.reason, message=e.message)
        if doc.halt:
            return self._done("halted", sequence=doc.sequence)
        release = doc.release_for(self.service.board)
        if release is None:
            return self._done("no-release", sequence=doc.sequence)
        app = self.service.running_app()
        if release.version == app.version and release.secure_version == app.secure_version:
            return self._done("current", version=app.version, sequence=doc.sequence)
        if release.secure_version < app.secure_version:
            return self._done("no-release", sequence=doc.sequence, message="channel names an older secure version")
        if self.rolled_back(release):
            return self._done("rolled-back", version=release.version, sequence=doc.sequence,
                              message="this release failed here before (rolled back): waiting for a newer one")
        if self.state.bucket(release) >= release.rollout:
            return self._done("not-selected", version=release.version, sequence=doc.sequence)
        if self.call_active():
            return self._done("deferred", version=release.version, sequence=doc.sequence, message="a call is up")
        return await self._install(doc, release)

    def rolled_back(self, release):
        """The release is the one this handset installed and then rolled
        back (ota/history.py): installing it again would only fail again,
        at every interval."""
        app = history.rolled_back_app(self.service.partition_cls, self.service.running())
        return app is not None and app.version == release.version and app.secure_version == release.secure_version

    async def _install(self, doc, release):
        def same_release(m):  # the bundle must be the one the signed document names
            if m.version != release.version or m.secure_version != release.secure_version:
                raise OtaRejected("mismatch", "bundle holds %s (secure_version %d), the channel names %s (%d)"
                                  % (m.version, m.secure_version, release.version, release.secure_version))

        self.download = BundleDownload(self.service, channel.resolve(self.url, release.bundle), self.ssl_context,
                                       self.attempts, self.timeout, self.log, same_release)
        try:
            result = await self.download.run()
        except OtaRejected as e:
            return self._done("refused", reason=e.reason, message=e.message, version=release.version)
        except DownloadError as e:
            return self._done("failed", reason="network", message=str(e), version=release.version)
        return self._done("updated", version=result.version, secure_version=result.secure_version,
                          sequence=doc.sequence)


def channel_of_url(url):
    """"stable" for .../stable.channel; None when the URL does not say."""
    name = url[url.rfind("/") + 1 :]
    if name.endswith(".channel") and channel.name_ok(name[: -len(".channel")]):
        return name[: -len(".channel")]
    return None


def pull_config(config, settings=None):
    """The pull settings ({"url", "interval", "jitter"?, "ca_der"?}) from the
    simulation's config or the handset's settings Store, or None when no
    channel is configured (pulling is off). ValueError for a bad URL."""
    cfg = config.get("ota_pull")
    if cfg is None and settings is not None:
        url = settings.get_bytes(KEY_PULL_URL)
        if url:
            cfg = {"url": bytes(url).decode(), "interval": settings.get_int(KEY_PULL_EVERY, DEFAULT_INTERVAL)}
    if not cfg or not cfg.get("url"):
        return None
    cfg = dict(cfg)
    from hushphone.ota.http_client import parse_url

    parse_url(cfg["url"])  # https only
    cfg["interval"] = max(MIN_INTERVAL, int(cfg.get("interval") or DEFAULT_INTERVAL))
    return cfg


def update_host_cas(cfg, trust_store):
    """DER CA certificates that may vouch for the update host: the
    simulation's ca_der file, else every CA the handset was provisioned
    with (NVS hush_trust ca0..; a Store)."""
    if cfg.get("ca_der"):
        with open(cfg["ca_der"], "rb") as f:
            return [f.read()]
    cas = []
    for i in range(MAX_CA):
        der = trust_store.get_bytes(ca_key(i)) if trust_store is not None else None
        if der:
            cas.append(der)
    return cas


async def run_beside(main, side, log=None):
    """Run coroutine `side` (the pull task) while `main` (the phone app)
    runs; return main's result. A side task that fails only logs."""

    async def guarded():
        try:
            await side
        except Exception as e:  # a bug in pulling must not take the phone down
            if log:
                log("ota pull: stopped: %s: %s" % (type(e).__name__, e))

    task = asyncio.create_task(guarded())
    try:
        return await main
    finally:
        task.cancel()


def next_delay(interval, jitter, random_below=_random.random_below):
    """Seconds to the next check: interval +/- jitter, uniformly, so a fleet
    switched on together does not ask the host at the same moment."""
    jitter = max(0, min(jitter, interval - 1))
    return interval - jitter + random_below(2 * jitter + 1)


async def run(service, config, ssl_context, state_nvs, call_active=None, on_updated=None, log=None, max_checks=None,
              sleep=None, random_below=_random.random_below):
    # The update host is verified with ssl_context, and shown no client
    # certificate: the device certificate would identify the handset.
    """The handset's pull task (started by main.py beside the phone).

    config: {"url": channel document URL, "interval": seconds (default 6 h),
    "jitter": seconds (default interval / 4)}. After an install it waits
    until no call is up, then calls on_updated(result) (the board reboots
    into the new firmware) and returns the result. max_checks bounds the
    loop (None: run until an update is installed)."""
    sleep = sleep or asyncio.sleep
    interval = int(config.get("interval", DEFAULT_INTERVAL))
    jitter = int(config.get("jitter", interval // 4))
    client = PullClient(service, state_nvs, config["url"], ssl_context, call_active, log,
                        channel_name=config.get("channel"))
    await sleep(random_below(max(1, jitter)))  # spread a fleet that powers up together
    checks = 0
    while max_checks is None or checks < max_checks:
        checks += 1
        result = await client.check()
        if result["status"] == "updated":
            for _ in range(_MAX_CALL_WAIT // _CALL_POLL):
                if not client.call_active():
                    break
                await sleep(_CALL_POLL)
            if on_updated is not None:
                on_updated(result)
            return result
        await sleep(next_delay(interval, jitter, random_below))
    return client.last
