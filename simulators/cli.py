"""What every simulator's command line starts with: its help from the module docstring, and
where it listens (``--host``, ``--port``, the port's default from an environment variable)."""

import argparse
import os


def server_parser(module: str, doc: str | None, port_variable: str, port: int):
    parser = argparse.ArgumentParser(
        prog=f"python -m {module}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get(port_variable, port)))
    return parser
