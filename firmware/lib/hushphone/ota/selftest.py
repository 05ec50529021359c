# The new firmware's self-test before it confirms itself: storage readable,
# network up, and SIP registration when an account is configured. Each check
# is a callable (name, fn) returning True or a short failure text, or
# raising; boards supply the hardware-specific ones, the SIP stack supplies
# the registration check when it is present.
from hushphone.ota.appdesc import HEAD_SIZE, AppInfo


class SelfTestResult:
    def __init__(self, results):
        self.results = results  # [(name, ok, detail)]
        self.ok = all(r[1] for r in results)

    def failures(self):
        return ["%s: %s" % (name, detail) for name, ok, detail in self.results if not ok]


def run(checks):
    """Run every check (all of them, so the log names every problem)."""
    results = []
    for name, fn in checks:
        try:
            outcome = fn()
        except Exception as e:  # a crashing check is a failed check
            results.append((name, False, "%s: %s" % (type(e).__name__, e)))
            continue
        if outcome is True:
            results.append((name, True, "ok"))
        else:
            results.append((name, False, str(outcome) if outcome else "failed"))
    return SelfTestResult(results)


def storage_check(partition_cls):
    """The running app's own header and descriptor read back from flash."""

    def check():
        buf = bytearray(HEAD_SIZE)
        partition_cls(partition_cls.RUNNING).readblocks(0, buf)
        AppInfo(buf)
        return True

    return ("storage", check)


def image_check(slots):
    """A handset on stock MicroPython: the code slot it runs from still
    holds, block for block, the image its selection entry names
    (fsslots.FsSlots), as the loader checked before mounting it."""

    def check():
        i, entry = slots.active()
        if i < 0:
            return "no code slot selected"
        if not slots.image_ok(entry.slot(len(slots.slots)), entry):
            return "the code slot's image differs from its entry's hash"
        return True

    return ("storage", check)


def nvs_check(nvs, key="sec_ver"):
    """The settings store answers (the trust store's floor is always set)."""

    def check():
        nvs.get_i32(key)
        return True

    return ("nvs", check)


def loopback_network_check():
    """The IP stack works: a UDP socket binds on the loopback interface. The
    simulated handset's 'network up'; a board uses its interface's state."""

    def check():
        import socket

        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
        finally:
            s.close()
        return True

    return ("network", check)


def wlan_network_check(wlan):
    """network.WLAN(network.STA_IF) on a device: associated with an address."""

    def check():
        if not wlan.isconnected():
            return "not connected"
        return True

    return ("network", check)


def sip_registration_check(is_registered):
    """`is_registered()` from the SIP stack: True once the account is
    registered (the stack waits for the registrar's 200 OK itself)."""
    return ("sip-registration", lambda: True if is_registered() else "not registered")
