"""`python -m ingestion.sample`: the old command, kept working; the builder lives in devdata/sample.py."""

import runpy

if __name__ == "__main__":
    runpy.run_module("devdata.sample", run_name="__main__", alter_sys=True)
