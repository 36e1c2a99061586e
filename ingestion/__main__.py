"""`python -m ingestion run|download|land|publish|maintain|synth …`: the documented command, kept as the entry
point; the command line itself lives in pipeline/cli.py (it drives every stage, so it sits above them)."""

import sys

from pipeline.cli import main

if __name__ == "__main__":
    sys.exit(main())
