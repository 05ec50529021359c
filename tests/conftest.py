import sys
from pathlib import Path

# Make `tests.support` importable and the core tests' helpers (tests/core on
# sys.path, as the MicroPython runner has it).
ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "tests" / "core"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))
