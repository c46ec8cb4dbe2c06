"""Runs a command on a new pseudo-terminal, types Ctrl-C once the file
READY exists, then sends SIGTERM to the command itself, and exits with its
status (128 + signal when a signal ended it).

usage: python ctrl_c_on_tty.py READY COMMAND...
"""
import os
import pty
import signal
import sys
import time

ready = sys.argv[1]
argv = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)

deadline = time.time() + 60
while not os.path.exists(ready):
    if time.time() > deadline:
        os.kill(pid, signal.SIGKILL)
        sys.exit("the command never got ready")
    time.sleep(0.05)
os.write(fd, b"\x03")  # Ctrl-C, as typed
time.sleep(1.0)
os.kill(pid, signal.SIGTERM)
while True:  # drain the terminal so the command never blocks on output
    try:
        if not os.read(fd, 1024):
            break
    except OSError:
        break
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
