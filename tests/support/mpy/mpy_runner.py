# Runs tests/core modules on the MicroPython unix port with the unittest
# subset beside this file. Usage: micropython mpy_runner.py MODULE [MODULE...]
# Prints one line per test and a closing "N passed, N failed, N skipped".
import sys
import unittest


def _test_classes(module):
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if isinstance(obj, type) and issubclass(obj, unittest.TestCase) and obj is not unittest.TestCase:
            yield name, obj


def run_modules(names):
    passed = failed = skipped = 0
    for mod_name in names:
        try:
            module = __import__(mod_name)
        except Exception as e:
            print("ERROR import", mod_name)
            sys.print_exception(e)
            failed += 1
            continue
        for cls_name, cls in _test_classes(module):
            try:
                cls.setUpClass()
            except unittest.SkipTest as e:
                print("SKIP %s.%s: %s" % (mod_name, cls_name, e))
                skipped += 1
                continue
            except Exception as e:
                print("ERROR %s.%s.setUpClass" % (mod_name, cls_name))
                sys.print_exception(e)
                failed += 1
                continue
            for test_name in sorted(dir(cls)):
                if not test_name.startswith("test"):
                    continue
                case = cls()
                label = "%s.%s.%s" % (mod_name, cls_name, test_name)
                try:
                    case.setUp()
                    try:
                        getattr(case, test_name)()
                    finally:
                        case.tearDown()
                except unittest.SkipTest as e:
                    print("SKIP", label, e)
                    skipped += 1
                except Exception as e:
                    print("FAIL", label)
                    sys.print_exception(e)
                    failed += 1
                else:
                    print("ok  ", label)
                    passed += 1
            cls.tearDownClass()
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(run_modules([a[:-3] if a.endswith(".py") else a for a in sys.argv[1:]]))
