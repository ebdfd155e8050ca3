"""Entry point of a frozen build (packaging/pyinstaller.spec). The installed package uses the
`genworkbench` console script instead; this adds what only a frozen interpreter needs."""

import multiprocessing
import sys

if __name__ == "__main__":
    # Training runs in a child process (forkserver on Linux, spawn elsewhere): in a frozen
    # executable the child re-runs this file, and freeze_support() turns it into the worker.
    multiprocessing.freeze_support()
    from workbench.cli import main

    sys.exit(main())
