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

    def _check(self, ok, default, msg):
        if not ok:
            raise AssertionError(msg if msg is not None else default)

    def assertEqual(self, a, b, msg=None):
        self._check(a == b, "%r != %r" % (a, b), msg)

    def assertNotEqual(self, a, b, msg=None):
        self._check(a != b, "%r == %r" % (a, b), msg)

    def assertTrue(self, x, msg=None):
        self._check(bool(x), "%r is not true" % (x,), msg)

    def assertFalse(self, x, msg=None):
        self._check(not x, "%r is not false" % (x,), msg)

    def assertIs(self, a, b, msg=None):
        self._check(a is b, "%r is not %r" % (a, b), msg)

    def assertIsNot(self, a, b, msg=None):
        self._check(a is not b, "%r is %r" % (a, b), msg)

    def assertIsNone(self, x, msg=None):
        self._check(x is None, "%r is not None" % (x,), msg)

    def assertIsNotNone(self, x, msg=None):
        self._check(x is not None, "unexpectedly None", msg)

    def assertIn(self, a, b, msg=None):
        self._check(a in b, "%r not found in %r" % (a, b), msg)

    def assertNotIn(self, a, b, msg=None):
        self._check(a not in b, "%r unexpectedly found in %r" % (a, b), msg)

    def assertIsInstance(self, x, cls, msg=None):
        self._check(isinstance(x, cls), "%r is not an instance of %r" % (x, cls), msg)

    def assertGreater(self, a, b, msg=None):
        self._check(a > b, "%r not greater than %r" % (a, b), msg)

    def assertGreaterEqual(self, a, b, msg=None):
        self._check(a >= b, "%r not greater than or equal to %r" % (a, b), msg)

    def assertLess(self, a, b, msg=None):
        self._check(a < b, "%r not less than %r" % (a, b), msg)

    def assertLessEqual(self, a, b, msg=None):
        self._check(a <= b, "%r not less than or equal to %r" % (a, b), msg)

    def assertAlmostEqual(self, a, b, places=7, msg=None, delta=None):
        if delta is not None:
            self._check(abs(a - b) <= delta, "%r != %r within %r delta" % (a, b, delta), msg)
        else:
            self._check(round(abs(a - b), places) == 0, "%r != %r within %r places" % (a, b, places), msg)

    def assertRaises(self, exc, func=None, *args, **kwargs):
        ctx = _AssertRaisesContext(exc)
        if func is None:
            return ctx
        with ctx:
            func(*args, **kwargs)
        return ctx

    def assertRegex(self, text, pattern, msg=None):
        import re

        self._check(re.search(pattern, text) is not None, "%r does not match %r" % (text, pattern), msg)


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
