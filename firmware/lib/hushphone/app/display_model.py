# What the handset shows, as text lines for the HAL display (a small grid:
# `width` characters by `height` lines), sans-IO:
#
#   line 0        status: registration, the call's security, the SAS
#   lines 1..h-2  the current call (peer, state, duration, held/muted, a
#                 waiting call), the dial buffer, a menu, or a message
#   line h-1      the soft key labels (SOFT1 SOFT2 SOFT3)
#
# soft_keys() gives the labels together with the action each key does, so
# what is shown and what happens cannot disagree. Menus are pages of
# (label, action) items navigated with UP/DOWN/OK/BACK; a label may be a
# tuple of texts, longest first: the first that fits the display is shown,
# so a setting's state stays readable on a 16-column display too. The SAS
# is never cut: on a narrow status line the registration text gives way.
from hushphone.app import callcontrol as cc

REG_TEXT = {"registered": "Ready", "registering": "Registering", "failed": "Not registered",
            "offline": "No network", "unprovisioned": "No account", "direct": ("Ready (direct)", "Direct"),
            "cert_refused": ("Server cert refused", "Cert refused")}
_STATE_TEXT = {cc.CALLING: "Calling", cc.RINGING: "Incoming call", cc.IN_CALL: "In call", cc.HELD: "On hold"}


def fit(text, width):
    """One display line: cut to width (an ellipsis marks the cut)."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "~" if width > 1 else text[:width]


def pick(texts, width):
    """The first of `texts` (longest first) that fits `width`, else the
    last one cut; a plain string is one text."""
    if isinstance(texts, str):
        return fit(texts, width)
    for text in texts:
        if len(text) <= width:
            return text
    return fit(texts[-1], width)


def wrap(text, width):
    """Lines of at most `width` characters, broken at spaces if possible."""
    out = []
    words = text.split(" ")
    cur = ""
    for w in words:
        while len(w) > width:
            if cur:
                out.append(cur)
                cur = ""
            out.append(w[:width])
            w = w[width:]
        if not cur:
            cur = w
        elif len(cur) + 1 + len(w) <= width:
            cur += " " + w
        else:
            out.append(cur)
            cur = w
    if cur:
        out.append(cur)
    return out


def duration_text(ms):
    s = ms // 1000
    if s >= 3600:
        return "%d:%02d:%02d" % (s // 3600, (s // 60) % 60, s % 60)
    return "%d:%02d" % (s // 60, s % 60)


class Menu:
    """A stack of pages; each page is (title, [(label, action)]). key()
    returns the action of the chosen item on OK, "close" when BACK leaves
    the last page, else None."""

    def __init__(self):
        self.pages = []  # [title, items, cursor]

    @property
    def open(self):
        return bool(self.pages)

    def push(self, title, items):
        self.pages.append([title, list(items), 0])

    def replace(self, title, items):
        """Redraw the top page (after a setting changed) keeping the cursor."""
        cursor = self.pages[-1][2] if self.pages else 0
        if self.pages:
            self.pages.pop()
        self.pages.append([title, list(items), min(cursor, max(0, len(items) - 1))])

    def close(self):
        self.pages = []

    def key(self, name):
        if not self.pages:
            return None
        page = self.pages[-1]
        items = page[1]
        if name == "UP" and items:
            page[2] = (page[2] - 1) % len(items)
        elif name == "DOWN" and items:
            page[2] = (page[2] + 1) % len(items)
        elif name in ("OK", "CALL") and items:
            return items[page[2]][1]
        elif name in ("BACK", "HANGUP"):
            self.pages.pop()
            if not self.pages:
                return "close"
        return None

    def lines(self, width, rows):
        title, items, cursor = self.pages[-1]
        out = [fit(title, width)]
        rows -= 1
        if not items:
            return out + ["(empty)"]
        first = 0 if cursor < rows else cursor - rows + 1
        for i in range(first, min(len(items), first + rows)):
            out.append(("> " if i == cursor else "  ") + pick(items[i][0], width - 2))
        return out


# -- menu pages (built by the app from its data) ------------------------------


def main_menu_items():
    return [("Contacts", "contacts"), ("Call log", "calllog"), ("Settings", "settings"), ("About", "about")]


def contacts_items(names):
    return [(n, "call:" + n) for n in names]


def calllog_items(entries):
    marks = {"in": "<", "out": ">", "missed": "!", "declined": "x", "busy": "b", "failed": "x"}
    items = []
    for e in entries:
        text = "%s %s" % (marks.get(e["kind"], "?"), e["peer"])
        if e["secs"]:
            text += " " + duration_text(e["secs"] * 1000)
        items.append((text, "redial:" + e["peer"]))
    return items


def _on(flag):
    return "on" if flag else "off"


def settings_items(withhold, log_days, log_max, sdes_fallback=True, turn_host=None):
    """The Settings page: every on/off setting with its state, in words
    that fit 16 columns too. turn_host: the relay's host (None: no relay)."""
    sdes = "allowed" if sdes_fallback else "off"
    relay = _on(turn_host is not None)
    items = [
        (("Withhold caller ID: %s" % _on(withhold), "Withhold my ID: %s" % _on(withhold),
          "Hide my ID: %s" % _on(withhold), "Hide ID: %s" % _on(withhold)), "toggle_withhold"),
        (("SDES fallback: %s" % sdes, "SDES: %s" % sdes), "toggle_sdes"),
        (("TURN relay: %s" % relay, "Relay: %s" % relay), None),
    ]
    if turn_host is not None:
        items.append((("Relay %s" % turn_host, turn_host), None))
    items += [
        ("Clear call log", "clear_log"),
        (("Log kept %d days/%d calls" % (log_days, log_max), "Log %dd/%d calls" % (log_days, log_max),
          "Log %dd/%d" % (log_days, log_max)), None),
    ]
    return items


def about_items(protections, version):
    items = [("Hushphone %s" % version, None)]
    for p in protections:
        items.append((p, None))
    return items


# -- the screen ------------------------------------------------------------------


def soft_keys(calls, menu_open=False, security=None):
    """[(label, action)] for SOFT1..SOFT3 in this state. `calls` is the
    CallControl, `security` the current call's CallSecurity: a ZRTP call
    whose SAS is not verified yet offers Confirm/Reject first."""
    line = calls.current
    ringing = calls.ringing_line()
    if ringing is not None:
        return [("Answer", "ANSWER"), ("Decline", "DECLINE"), ("", None)]
    if menu_open:
        return [("Select", "OK"), ("Back", "BACK"), ("", None)]
    if line is None:
        if calls.dial_buffer:
            return [("Call", "CALL"), ("Delete", "BACK"), ("Clear", "HANGUP")]
        return [("Menu", "MENU"), ("Log", "LOG"), ("", None)]
    if line.state == cc.CALLING:
        return [("", None), ("", None), ("Cancel", "HANGUP")]
    if (line.state == cc.IN_CALL and security is not None and security.kind == "zrtp" and security.secure
            and not security.verified):
        return [("Confirm", "SAS_OK"), ("Reject", "SAS_BAD"), ("End", "HANGUP")]
    hold = "Resume" if line.state == cc.HELD else "Hold"
    mute = "Unmute" if line.muted else "Mute"
    return [(hold, "HOLD"), (mute, "MUTE"), ("End", "HANGUP")]


def status_line(registration, security, width):
    """Registration state, the call's security indicator and SAS. The SAS
    is never cut: the texts get shorter (the registration's short form,
    the indicator's short form) and, where even that does not fit, the
    indicator is shown alone (the call lines have the full text)."""
    reg = REG_TEXT.get(registration, registration)
    if security is None:
        return pick(reg, width)
    regs = (reg,) if isinstance(reg, str) else reg
    for text in [r + " | " + security.label() for r in regs] + [r + " | " + security.short_label() for r in regs]:
        if len(text) <= width:
            return text
    if len(security.short_label()) <= width:
        return security.short_label()
    sas = security.sas
    if sas is not None and len(sas) <= width:
        return sas  # a B256 SAS (two PGP words) on a very narrow display
    return fit(security.short_label(), width)


class View:
    """Everything the screen shows. security_of(line) -> CallSecurity or
    None; peer_name(peer) -> the name to show (a contact's) ; message: a
    transient line (e.g. "Call log cleared")."""

    def __init__(self, calls, security_of=None, peer_name=None):
        self.calls = calls
        self.registration = "registering"
        self.account = ""
        self.security_of = security_of or (lambda line: None)
        self.peer_name = peer_name or (lambda peer: peer)
        self.menu = Menu()
        self.message = None


def render(view, now, width=21, height=8):
    """The screen as exactly `height` lines of at most `width` characters."""
    calls = view.calls
    line = calls.current
    security = view.security_of(line) if line is not None else None
    out = [status_line(view.registration, security, width)]
    body = height - 2
    lines = []
    if view.menu.open and calls.ringing_line() is None:
        lines = view.menu.lines(width, body)
    elif line is not None:
        lines = _call_lines(view, line, security, now, width)
    elif calls.dial_buffer:
        lines = ["Dial:", fit(calls.dial_buffer, width)]
    else:
        lines = [fit(view.account, width)] if view.account else []
        ended = calls.last_ended
        if ended is not None and now - ended.ended_ms < 5000:
            lines.append(fit("%s: %s" % (view.peer_name(ended.peer), ended.end_reason), width))
    if view.message:
        lines.append(fit(view.message, width))
    lines = lines[:body]
    while len(lines) < body:
        lines.append("")
    keys = soft_keys(calls, view.menu.open, security)
    out += lines
    out.append(_soft_key_line(keys, width))
    return out


def _call_lines(view, line, security, now, width):
    calls = view.calls
    name = view.peer_name(line.peer)
    state = _STATE_TEXT.get(line.state, line.state)
    if line.state == cc.CALLING and line.remote_ringing:
        state = "Ringing"
    lines = [fit(name, width)]
    detail = state
    if line.state in (cc.IN_CALL, cc.HELD):
        detail += " " + duration_text(line.duration_ms(now))
    flags = []
    if line.muted:
        flags.append("muted")
    if line.remote_held:
        flags.append("held by peer")
    if flags:
        detail += " (" + ", ".join(flags) + ")"
    lines += wrap(detail, width)
    if security is not None:
        lines += wrap(security.label(), width)
        warning = security.warning()
        if warning:
            lines += wrap("! " + warning, width)
    other = calls.other_line(line)
    if other is not None:
        what = "waiting" if other.state == cc.RINGING else _STATE_TEXT.get(other.state, other.state).lower()
        lines.append(fit("+ %s: %s" % (view.peer_name(other.peer), what), width))
    return lines


def _soft_key_line(keys, width):
    cell = width // 3
    text = ""
    for label, _action in keys:
        label = fit(label, cell)
        text += label + " " * (cell - len(label))  # MicroPython str has no ljust
    return text.rstrip()[:width]
