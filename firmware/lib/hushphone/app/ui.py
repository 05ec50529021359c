# What the person at the desk and the console see and do: key presses
# (HAL keys, soft keys, hook), the menus (contacts, call log, settings,
# about), console commands (key, dial, dtmf, stats, export, quit) and the
# stats the console prints. The screen itself is drawn by
# app/display_model.py; calls are run by app/callcontrol.py.
import gc

from hushphone.app import callcontrol as cc
from hushphone.app import display_model as dm
from hushphone.app.console import ConsoleError, parse
from hushphone.app.contacts import dial_target
from hushphone.hal import interfaces as hw

# HAL keys -> call-control keys (soft keys are mapped by the display model).
_KEY_ALIASES = {hw.OFFHOOK: "CALL", hw.ONHOOK: "HANGUP", hw.OK: "OK", hw.BACK: "BACK", hw.MUTE: "MUTE",
                hw.HOLD: "HOLD"}
_SOFT = (hw.SOFT1, hw.SOFT2, hw.SOFT3)


def turn_host(uri):
    """The host of a turn:/turns: URI (RFC 7065), for the display."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    rest = rest.split("?", 1)[0]
    if rest.startswith("["):
        return rest[1:rest.find("]")] if "]" in rest else rest
    return rest.split(":", 1)[0]


class Ui:
    """Keys, menus and console of the phone; `phone` is the app
    (app/phone.py)."""

    def __init__(self, phone):
        self.phone = phone

    def key(self, name):
        """One key press (a HAL key name, or a call-control name such as
        CALL, HANGUP, ANSWER, DECLINE)."""
        phone = self.phone
        now = phone.now()
        view = phone.view
        calls = phone.calls
        view.message = None
        name = _KEY_ALIASES.get(name, name)
        if name in _SOFT:
            name = dm.soft_keys(calls, view.menu.open, self.current_security())[_SOFT.index(name)][1]
            if name is None:
                return
        if name in (hw.HOOK, hw.SPEAKER):
            busy = calls.current is not None or calls.ringing_line() is not None
            name = "HANGUP" if busy and calls.ringing_line() is None else "CALL"
        if name in ("SAS_OK", "SAS_BAD"):
            phone.zrtp.sas_verdict(name == "SAS_OK", now)
        elif name == "MENU":
            view.menu.push("Menu", dm.main_menu_items())
        elif name == "LOG":
            self.menu_action("calllog")
        elif view.menu.open and calls.ringing_line() is None and name in ("UP", "DOWN", "OK", "BACK", "CALL",
                                                                          "HANGUP"):
            action = view.menu.key(name)
            if action is not None:
                self.menu_action(action)
        else:
            try:
                calls.key(name, now)
            except cc.CallControlError as e:
                phone.emit("error", text=str(e))
        phone.actions()
        phone.refresh()

    def menu_action(self, action):
        phone = self.phone
        menu = phone.view.menu
        if action == "close":
            return
        if action == "contacts":
            menu.push("Contacts", dm.contacts_items(phone.contacts.names()))
        elif action == "calllog":
            menu.push("Call log", dm.calllog_items(phone.calllog.view(phone.hal.clock.unix_time())))
        elif action == "settings":
            menu.push("Settings", self.settings_items())
        elif action == "about":
            from hushphone.app.transparency import about_lines

            menu.push("About", dm.about_items(about_lines(self.report()) + self.protections(), phone.version))
        elif action == "toggle_withhold":
            settings = phone.settings
            settings.set("hide_callid", 0 if settings.withhold_caller_id else 1)
            settings.save()
            if phone.ua is not None:
                phone.ua.config.anonymous = settings.withhold_caller_id
            menu.replace("Settings", self.settings_items())
            phone.emit("setting", name="withhold_caller_id", value=settings.withhold_caller_id)
        elif action == "toggle_sdes":
            settings = phone.settings
            settings.set("sdes_fallback", 0 if settings.sdes_fallback else 1)
            settings.save()
            phone.policy.sdes_fallback = settings.sdes_fallback  # the next call's offers and answers
            menu.replace("Settings", self.settings_items())
            phone.emit("setting", name="sdes_fallback", value=settings.sdes_fallback)
        elif action == "clear_log":
            phone.calllog.clear()
            phone.view.message = "Call log cleared"
            phone.emit("calllog_cleared")
        elif action.startswith("call:") or action.startswith("redial:"):
            name = action.split(":", 1)[1]
            contact = phone.contacts.find(name) if action.startswith("call:") else None
            target = dial_target(contact) if contact is not None else name
            menu.close()
            if target:
                self.dial(target)

    def current_security(self):
        line = self.phone.calls.current
        return self.phone.security_of(line) if line is not None else None

    def settings_items(self):
        phone = self.phone
        turn = phone.settings.turn
        return dm.settings_items(phone.settings.withhold_caller_id, phone.calllog.max_days, phone.calllog.max_entries,
                                 phone.settings.sdes_fallback, turn_host(turn[0]) if turn else None)

    def protections(self):
        phone = self.phone
        lines = phone.policy.protections()
        lines.append("Caller ID withheld" if phone.settings.withhold_caller_id else "Caller ID shown")
        lines += ["Random SSRC and ports", "Fixed-size packets", "No User-Agent",
                  "Log: %d days/%d calls" % (phone.calllog.max_days, phone.calllog.max_entries), "No telemetry"]
        return lines

    def report(self):
        """What the proxy, the peer and the network can see, from the live
        configuration (app/transparency.py)."""
        from hushphone.app.transparency import report

        phone = self.phone
        settings = phone.settings
        direct = not phone.registers
        host = None
        if phone.missing is None and phone.listen_port is None:
            host = phone.sip.proxy(settings.account, phone.domain)[2]
        turn = settings.turn
        return report(phone.aor, host, settings.withhold_caller_id, phone.policy.zrtp, phone.policy.sdes_fallback,
                      phone.policy.allow_insecure, (turn[0], turn[1]) if turn else None, direct)

    def dial(self, target):
        phone = self.phone
        try:
            phone.calls.dial(target, phone.now())
        except cc.CallControlError as e:
            phone.emit("error", text=str(e))
        phone.actions()
        phone.refresh()

    def command(self, line):
        """One console line."""
        phone = self.phone
        if phone.test_hooks and line.startswith("inject "):
            parts = line.split()
            try:
                phone.inject[parts[1]] = int(parts[2]) if len(parts) > 2 else 1
            except (IndexError, ValueError):
                phone.emit("error", text="inject WHERE [COUNT]")
            return
        try:
            cmd = parse(line)
        except ConsoleError as e:
            phone.emit("error", text=str(e))
            return
        if cmd is None:
            return
        verb, arg = cmd
        if verb == "key":
            name = arg.upper()
            if name not in hw.KEYS and name not in ("CALL", "HANGUP", "ANSWER", "DECLINE", "MENU", "LOG"):
                phone.emit("error", text="unknown key %r" % arg)
                return
            self.key(name)
        elif verb == "keys":
            try:
                phone.hal.keypad.feed(arg, phone.now())
            except (AttributeError, ValueError) as e:  # a keypad without scripts, or a bad script
                phone.emit("error", text="keys: %s" % e)
        elif verb == "dial":
            self.dial(arg)
        elif verb == "dtmf":
            for k in arg:
                if k in cc.DTMF_KEYS:
                    self.key(k)
        elif verb in ("answer", "decline", "hangup", "hold", "mute"):
            self.key(verb.upper())
        elif verb == "stats":
            phone.emit("stats", **self.stats())
        elif verb == "report":
            phone.emit("report", **self.report())
        elif verb == "export":
            # Data portability from the handset itself: settings (never the
            # password) and the address book as vCard 4.
            phone.emit("export", settings=phone.settings.export(), contacts_vcf=phone.contacts.export_vcard())
        elif verb == "quit":
            phone.running = False

    def stats(self):
        phone = self.phone
        lines = []
        for line in phone.calls.lines:
            media = line.ref[1] if line.ref is not None else None
            lines.append({
                "peer": line.peer, "state": line.state, "muted": line.muted, "remote_held": line.remote_held,
                "security": media.security.label() if media is not None and media.security else None,
                "media": media.stats() if media is not None else None,
            })
        heap = None
        if hasattr(gc, "mem_alloc"):  # MicroPython: what the app holds (after a collection)
            gc.collect()
            heap = {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
        d = phone.hal.display
        sip = phone.transport.stats() if phone.transport is not None else None
        return {"registration": phone.view.registration, "state": phone.calls.state, "lines": lines, "heap": heap,
                "sip": sip,
                "screen": [s.rstrip() for s in dm.render(phone.view, phone.now(), d.width, d.height)]}
