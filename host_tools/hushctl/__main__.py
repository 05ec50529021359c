import sys

from hushctl.cli import main

sys.exit(main())
