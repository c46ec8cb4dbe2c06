"""Drives an interactive bash on a new pseudo-terminal, as a person at a
terminal would: each step sends keys or waits for text to appear. Prints
the terminal's transcript; exits 0 when every awaited text appeared in
time, else 1, naming the step.

usage: python job_control_on_tty.py STEP...
  send:TEXT        type TEXT (\\n, \\x1a for Ctrl-Z, as Python escapes)
  expect:SECS:TEXT wait up to SECS seconds for TEXT to appear (after the
                   text the last expect found)
"""
import os
import pty
import select
import signal
import sys
import time

pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])

shown = b""
seen = 0


def read_for(seconds):
    global shown
    deadline = time.time() + seconds
    while True:
        left = deadline - time.time()
        if left <= 0:
            return
        ready, _, _ = select.select([fd], [], [], min(left, 0.1))
        if ready:
            try:
                data = os.read(fd, 4096)
            except OSError:
                return
            if not data:
                return
            shown += data
            return


failed = None
for step in sys.argv[1:]:
    kind, _, rest = step.partition(":")
    if kind == "send":
        os.write(fd, rest.encode().decode("unicode_escape").encode())
    elif kind == "expect":
        secs, _, text = rest.partition(":")
        want = text.encode()
        deadline = time.time() + float(secs)
        while shown.find(want, seen) < 0 and time.time() < deadline:
            read_for(deadline - time.time())
        at = shown.find(want, seen)
        if at < 0:
            failed = f"never saw {text!r} within {secs} s"
            break
        seen = at + len(want)
read_for(0.5)
# A hang-up, as when a terminal window closes: bash passes it on to its
# jobs, stopped ones too, so nothing is left running.
for sig, pause in [(signal.SIGHUP, 1.0), (signal.SIGKILL, 0)]:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        break
    read_for(pause)
os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
if failed:
    sys.stdout.write("\n--- " + failed + "\n")
    sys.exit(1)
