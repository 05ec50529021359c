# The handset's address book: contacts as vCard 4 (RFC 6350) dicts from the
# one shared codec (hushphone.vcard), kept in one file on the handset's
# filesystem (storage_layout.CONTACTS_PATH) so an export is the file itself.
from hushphone import storage_layout as layout
from hushphone import vcard


class ContactsError(ValueError):
    """Unusable contact data (a bad vCard, a contact without a number)."""


def _read(path):
    try:
        f = open(path, "rb")
    except OSError:
        return None
    with f:
        return f.read().decode("utf-8")


def dial_target(contact):
    """What to dial for a contact: its preferred TEL (lowest PREF, then the
    first), without a "tel:" or "sip:" prefix."""
    best = None
    for entry in contact.get("tel", []):
        pref = entry.get("pref", 100)
        if best is None or pref < best[0]:
            best = (pref, entry["value"])
    if best is None:
        return None
    value = best[1]
    for prefix in ("tel:", "sip:", "sips:"):
        if value.lower().startswith(prefix):
            return value[len(prefix):]
    return value


class Contacts:
    def __init__(self, path=layout.CONTACTS_PATH):
        self.path = path
        self.items = []

    def load(self):
        text = _read(self.path)
        try:
            self.items = vcard.parse(text) if text else []
        except vcard.VCardError as e:
            raise ContactsError("contacts file: %s" % e)
        self._sort()
        return self

    def save(self):
        text = vcard.serialize(self.items)
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(text.encode("utf-8"))
        import os

        os.rename(tmp, self.path)

    def _sort(self):
        self.items.sort(key=lambda c: c["fn"].lower())

    def import_vcard(self, text, replace=False):
        """Add the contacts of vCard 4 text (or replace all); returns how
        many were read. Nothing changes if any card is malformed."""
        try:
            new = vcard.parse(text)
        except vcard.VCardError as e:
            raise ContactsError(str(e))
        self.items = new if replace else self.items + new
        self._sort()
        return len(new)

    def export_vcard(self):
        return vcard.serialize(self.items)

    def add(self, fn, number):
        if not fn or not number:
            raise ContactsError("a contact needs a name and a number")
        contact = {"fn": fn, "tel": [{"value": number}]}
        vcard.check(contact)
        self.items.append(contact)
        self._sort()
        return contact

    def names(self):
        return [c["fn"] for c in self.items]

    def find(self, name):
        """The contact whose name is `name` (case-insensitive), or None."""
        low = name.lower()
        for c in self.items:
            if c["fn"].lower() == low:
                return c
        return None

    def name_for(self, user):
        """The name of the contact we would dial as `user` (to show who
        calls), or None."""
        if not user:
            return None
        for c in self.items:
            if dial_target(c) == user:
                return c["fn"]
        return None
