"""Entry point of the packaged app (PyInstaller runs this file as ``__main__``).

``hybridsearch`` alone starts the desktop app; every command of the source install works the same
(``--self-test``, ``index``, ``search``, ...). One extra, for start-up checks of the package:
``--smoke-window`` shows the main window, prints how long that took and quits.
"""

import multiprocessing
import os
import sys

if __name__ == "__main__":
    multiprocessing.freeze_support()
    if os.name == "posix" and not any(os.environ.get(v) for v in ("LC_ALL", "LC_CTYPE", "LANG")):
        os.environ["LC_CTYPE"] = "C.UTF-8"  # started without a locale (env -i, some launchers): Qt wants UTF-8
    if sys.argv[1:2] == ["--smoke-window"]:
        from hybridsearch.cli import quiet_libraries
        from hybridsearch.qt.smoke import smoke_window

        quiet_libraries()
        sys.exit(smoke_window())
    from hybridsearch.cli import main

    sys.exit(main())
