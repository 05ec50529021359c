"""Rules for @micropython.viper code in the firmware, checked over its
sources with ast (the build fails here, before any device runs it):

- at most four arguments: beyond four, viper's argument passing has written
  wrong values on the ESP32 (FIELD-NOTES; MicroPython #1380, #1383);
- named NAME_viper with a plain-Python twin NAME_py in the same module or
  in MODULE_twin.py;
- exercised against that twin by tests/core/test_viper_twins.py (a key
  NAME, or MODULE.NAME, in its CASES)."""
import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
TWIN_TEST = ROOT / "tests" / "core" / "test_viper_twins.py"
MAX_ARGS = 4


def _is_viper(decorator):
    return (
        isinstance(decorator, ast.Attribute)
        and decorator.attr == "viper"
        and isinstance(decorator.value, ast.Name)
        and decorator.value.id == "micropython"
    )


def viper_functions(source, filename="<src>"):
    """(name, argument count, line) of every viper function in source."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(map(_is_viper, node.decorator_list)):
            a = node.args
            count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + bool(a.vararg) + bool(a.kwarg)
            found.append((node.name, count, node.lineno))
    return found


def _top_level_defs(path):
    if not path.exists():
        return set()
    return {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}


def _twin_cases():
    tree = ast.parse(TWIN_TEST.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "CASES" for t in node.targets):
            return {k.value for k in node.value.keys}
    raise AssertionError("no CASES in %s" % TWIN_TEST)


ALL = [
    (path, name, count, line)
    for path in sorted(FIRMWARE.rglob("*.py"))
    for name, count, line in viper_functions(path.read_text(), str(path))
]


def test_the_firmware_has_viper_functions_to_check():
    names = {name for _, name, _, _ in ALL}
    # the SRTP, SHA-1, G.711, PCM and I2S loops
    assert {"packet_viper", "hmac_sha1_viper", "_decode_viper", "scale_into_viper", "decimate_2_viper"} <= names, names
    assert len(ALL) >= 10, ALL


@pytest.mark.parametrize("path,name,count,line", ALL, ids=["%s:%s" % (p.name, n) for p, n, _, _ in ALL])
def test_viper_function_follows_the_rules(path, name, count, line):
    where = "%s:%d %s" % (path.relative_to(ROOT), line, name)
    assert count <= MAX_ARGS, "%s takes %d arguments: viper allows %d on every target (pass a state buffer)" % (
        where, count, MAX_ARGS)
    assert name.endswith("_viper"), "%s: name viper functions NAME_viper (their twin: NAME_py)" % where
    base = name[: -len("_viper")]
    twins = _top_level_defs(path) | _top_level_defs(path.with_name(path.stem + "_twin.py"))
    assert base + "_py" in twins, "%s has no plain-Python twin %s_py" % (where, base)
    cases = _twin_cases()
    assert base in cases or "%s.%s" % (path.stem, base) in cases, (
        "%s is not run against its twin in tests/core/test_viper_twins.py" % where)


def test_the_check_catches_too_many_arguments():
    source = (
        "import micropython\n"
        "@micropython.viper\n"
        "def fill_viper(a: ptr8, b: ptr8, c: int, d: int, e: int):\n"
        "    pass\n"
        "@micropython.native\n"
        "def other(a, b, c, d, e, f):\n"
        "    pass\n"
    )
    assert viper_functions(source) == [("fill_viper", 5, 3)]
