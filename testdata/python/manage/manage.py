"""A stand-in for Django's manage.py: prints what it was given and where it
runs, echoes a line of stdin, and exits with the status in its arguments."""
import os
import sys

if __name__ == "__main__":
    print("argv", sys.argv[1:])
    print("settings", os.environ.get("DJANGO_SETTINGS_MODULE"))
    if "read" in sys.argv:
        print("stdin", sys.stdin.readline().strip())
    for a in sys.argv:
        if a.startswith("exit="):
            sys.exit(int(a[5:]))
