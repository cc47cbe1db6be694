"""Retrain the report's nets and verify their published errors: the documented driver.

The same program as ``cifarnets train`` (it lives in the package, so that pip users have
it too); ``python benchmarks/reproduce.py --help`` shows everything.
"""

import sys

from cifarnets.reproduce import main

if __name__ == "__main__":
    sys.exit(main(prog="reproduce.py"))
