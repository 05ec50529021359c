# A small subset of CPython's unittest for the MicroPython unix port, so the
# very same tests/core modules run on both runtimes. Only what the core tests
# use is here; tests/support/mpy_runner.py drives it.


class SkipTest(Exception):
    pass


class _AssertRaisesContext:
    def __init__(self, expected):
        self.expected = expected
        self.exception = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        if exc_type is None:
            raise AssertionError("%r not raised" % (self.expected,))
        if issubclass(exc_type, self.expected):
            self.exception = exc_value
            return True
        return False


class _SubTest:
    def __init__(self, case, params):
        self.case = case
        self.params = params

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, tb):
        if exc_type is not None and exc_type is not SkipTest:
            # Say which sub-case failed, then let the failure propagate.
            print("    subTest failed:", self.params)
        return False


def _short(value, limit=200):
    text = repr(value)
    if len(text) <= limit:
        return text
    return "%s... (%d characters)" % (text[:limit], len(text))


class TestCase:
    maxDiff = None

    def setUp(self):
        pass

    def tearDown(self):
        pass

    @classmethod
    def setUpClass(cls):
        pass

    @classmethod
    def tearDownClass(cls):
        pass

    def skipTest(self, reason):
        raise SkipTest(reason)

    def subTest(self, msg=None, **params):
        return _SubTest(self, msg if msg is not None else params)

    def fail(self, msg=None):
        raise AssertionError(msg or "fail")

    def _check(self, ok, msg, template, *values):
        # The message is made only for a failure, from short reprs: an
        # assertion on two 250 KB flash images must not build a 500 KB
        # string each time it passes (MemoryError in a busy heap).
        if not ok:
            raise AssertionError(msg if msg is not None else template % tuple(_short(v) for v in values))

    def assertEqual(self, a, b, msg=None):
        self._check(a == b, msg, "%s != %s", a, b)

    def assertNotEqual(self, a, b, msg=None):
        self._check(a != b, msg, "%s == %s", a, b)

    def assertTrue(self, x, msg=None):
        self._check(bool(x), msg, "%s is not true", x)

    def assertFalse(self, x, msg=None):
        self._check(not x, msg, "%s is not false", x)

    def assertIs(self, a, b, msg=None):
        self._check(a is b, msg, "%s is not %s", a, b)

    def assertIsNot(self, a, b, msg=None):
        self._check(a is not b, msg, "%s is %s", a, b)

    def assertIsNone(self, x, msg=None):
        self._check(x is None, msg, "%s is not None", x)

    def assertIsNotNone(self, x, msg=None):
        self._check(x is not None, msg, "unexpectedly None")

    def assertIn(self, a, b, msg=None):
        self._check(a in b, msg, "%s not found in %s", a, b)

    def assertNotIn(self, a, b, msg=None):
        self._check(a not in b, msg, "%s unexpectedly found in %s", a, b)

    def assertIsInstance(self, x, cls, msg=None):
        self._check(isinstance(x, cls), msg, "%s is not an instance of %s", x, cls)

    def assertGreater(self, a, b, msg=None):
        self._check(a > b, msg, "%s not greater than %s", a, b)

    def assertGreaterEqual(self, a, b, msg=None):
        self._check(a >= b, msg, "%s not greater than or equal to %s", a, b)

    def assertLess(self, a, b, msg=None):
        self._check(a < b, msg, "%s not less than %s", a, b)

    def assertLessEqual(self, a, b, msg=None):
        self._check(a <= b, msg, "%s not less than or equal to %s", a, b)

    def assertAlmostEqual(self, a, b, places=7, msg=None, delta=None):
        if delta is not None:
            self._check(abs(a - b) <= delta, msg, "%s != %s within %s delta", a, b, delta)
        else:
            self._check(round(abs(a - b), places) == 0, msg, "%s != %s within %s places", a, b, places)

    def assertRaises(self, exc, func=None, *args, **kwargs):
        ctx = _AssertRaisesContext(exc)
        if func is None:
            return ctx
        with ctx:
            func(*args, **kwargs)
        return ctx

    def assertRegex(self, text, pattern, msg=None):
        import re

        self._check(re.search(pattern, text) is not None, msg, "%s does not match %s", text, pattern)


def skip(reason):
    def decorator(obj):
        def skipped(*args, **kwargs):
            raise SkipTest(reason)

        return skipped if not isinstance(obj, type) else obj

    return decorator


def skipIf(condition, reason):
    if condition:
        return skip(reason)
    return lambda obj: obj


def skipUnless(condition, reason):
    return skipIf(not condition, reason)


def main():
    import sys
    import mpy_runner

    sys.exit(mpy_runner.run_modules([sys.argv[0]]))
