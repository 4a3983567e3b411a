"""The one environment reader.

OS environment variables win over `.env`, which is read when present (set
DJANGO_READ_DOT_ENV_FILE=false to ignore it). Everything is documented in `.env.example`.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()

if env.bool("DJANGO_READ_DOT_ENV_FILE", default=True) and (BASE_DIR / ".env").is_file():
    env.read_env(BASE_DIR / ".env")

# Runtime files: SQLite database, supervisor socket and logs, private Redis data.
VAR_DIR = Path(env("VAR_DIR", default=str(BASE_DIR / "var")))
