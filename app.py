"""The browser chat: ``python app.py [--help]`` (the same as ``qa serve``).

The app itself lives in qa/web/ (server.py starts it); this file only starts it.
"""
import sys

from qa.web.server import main

if __name__ == "__main__":
    sys.exit(main())
