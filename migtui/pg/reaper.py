"""Stop and delete an ephemeral cluster when the process that started it dies without cleaning up.

``atexit`` does not run after SIGKILL or a crash of the interpreter, and PostgreSQL does not exit with
its parent. The harness therefore starts one of these per ephemeral cluster, detached in its own session:

    python -m migtui.pg.reaper PARENT_PID PG_CTL DATADIR OWNS_DIR [RUN_AS]

It polls once a second; it exits quietly when OWNS_DIR is gone (the normal cleanup happened), and when
PARENT_PID is gone it runs ``pg_ctl stop -m immediate`` and deletes OWNS_DIR. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

POLL_SECONDS = 1.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> int:
    parent, pg_ctl, datadir, owns_dir = int(argv[0]), argv[1], argv[2], argv[3]
    run_as = argv[4] if len(argv) > 4 and argv[4] else None
    while os.path.exists(owns_dir):
        if not _alive(parent):
            if os.path.exists(os.path.join(datadir, "postmaster.pid")):
                subprocess.run(
                    [pg_ctl, "-D", datadir, "-m", "immediate", "-w", "-t", "30", "stop"],
                    user=run_as,
                    cwd="/",
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=False,
                    timeout=60,
                )
            shutil.rmtree(owns_dir, ignore_errors=True)
            return 0
        time.sleep(POLL_SECONDS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
