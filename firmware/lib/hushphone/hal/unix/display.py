# The simulated handset's display: each new screen is printed (framed, so
# a person can read it in a terminal log) and appended to a log file; the
# last screen is kept for tests. Identical repeats are not printed again.
from hushphone.hal.interfaces import Display, fit_lines



class TextDisplay(Display):
    """`history`: how many past screens to keep for tests (a handset's
    display keeps none; a small-heap simulation keeps few)."""

    def __init__(self, width=20, height=4, out=None, log_path=None, name="", history=64):
        self.width = width
        self.height = height
        self._out = out
        self._log_path = log_path
        self._name = name
        self.screen = fit_lines((), width, height)
        self.history = []  # the last `history` distinct screens, oldest first
        self._max_history = history
        self.updates = 0

    def show(self, lines):
        screen = fit_lines(lines, self.width, self.height)
        if screen == self.screen and self.updates:
            return
        self.screen = screen
        self.updates += 1
        self.history.append(screen)
        if len(self.history) > self._max_history:
            self.history.pop(0)
        text = self.render()
        if self._out is not None:
            self._out(text)
        if self._log_path:
            with open(self._log_path, "a") as f:
                f.write(text + "\n")

    def render(self):
        edge = "+" + "-" * self.width + "+"
        rows = ["[%s]" % self._name] if self._name else []
        rows.append(edge)
        for line in self.screen:
            rows.append("|" + line + "|")
        rows.append(edge)
        return "\n".join(rows)

    def text(self):
        """The screen as plain lines without trailing spaces (for tests)."""
        return [line.rstrip() for line in self.screen]
