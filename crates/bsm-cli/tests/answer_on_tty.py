"""Runs a command in a new pseudo-terminal (its controlling terminal), with
its stdout and stderr sent to files, answers the first "MFA code for"
prompt that appears on the terminal, and prints what the terminal showed.

usage: python answer_on_tty.py STDOUT_FILE STDERR_FILE CODE COMMAND...
"""
import os
import pty
import sys
import time

out_path, err_path, code = sys.argv[1], sys.argv[2], sys.argv[3]
argv = sys.argv[4:]
pid, fd = pty.fork()
if pid == 0:
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    os.dup2(os.open(out_path, flags, 0o600), 1)
    os.dup2(os.open(err_path, flags, 0o600), 2)
    os.execvp(argv[0], argv)

shown = b""
answered = False
deadline = time.time() + 120
while time.time() < deadline:
    try:
        data = os.read(fd, 1024)
    except OSError:
        break
    if not data:
        break
    shown += data
    if not answered and b"MFA code for" in shown and shown.rstrip(b" ").endswith(b":"):
        os.write(fd, code.encode() + b"\n")
        answered = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode(errors="replace"))
sys.exit(os.waitstatus_to_exitcode(status))
