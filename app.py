"""The browser chat: ``python app.py [--help]`` (the same as ``qa serve``).

The app itself lives in qa/web/app.py; this file only starts it.
"""
import sys

from qa.web.app import main

if __name__ == "__main__":
    sys.exit(main())
