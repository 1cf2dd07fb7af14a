#!/usr/bin/env python3
"""Drive a full-screen program in a pseudo-terminal: the test helper behind top's TTY test.

usage: pty-drive.py SCRIPT_JSON -- COMMAND ...
SCRIPT_JSON: [["wait", "text", seconds] | ["send", "keys"] | ["signal", "TERM"] | ["resize", rows, cols] | ["sleep", s]]
Prints one JSON object: {"exit": code-or--signal, "output": latin1 text, "steps": [true...],
"echo": ECHO flag after exit, "icanon": ICANON flag after exit, "rawDuring": raw mode seen}.
"""
import fcntl, json, os, pty, select, signal, struct, subprocess, sys, termios, time

script = json.loads(sys.argv[1])
cmd = sys.argv[sys.argv.index('--') + 1:]
master, slave = pty.openpty()
fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', 30, 100, 0, 0))
p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                     preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0))
out = b''
steps = []
raw_during = False

def pump(timeout):
    global out
    r, _, _ = select.select([master], [], [], timeout)
    if r:
        try:
            out += os.read(master, 65536)
        except OSError:
            pass

for step in script:
    kind = step[0]
    if kind == 'wait':
        end = time.time() + step[2]
        start = len(out)
        ok = False
        while time.time() < end:
            pump(0.05)
            if step[1].encode('latin1') in out[start:] or step[1].encode('latin1') in out:
                ok = True
                break
        steps.append(ok)
        if not (termios.tcgetattr(slave)[3] & termios.ICANON):
            raw_during = True
    elif kind == 'send':
        os.write(master, step[1].encode('latin1'))
        steps.append(True)
    elif kind == 'signal':
        p.send_signal(getattr(signal, 'SIG' + step[1]))
        steps.append(True)
    elif kind == 'resize':
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack('HHHH', step[1], step[2], 0, 0))
        p.send_signal(signal.SIGWINCH)
        steps.append(True)
    elif kind == 'sleep':
        end = time.time() + step[1]
        while time.time() < end:
            pump(0.05)
        steps.append(True)

end = time.time() + 10
while p.poll() is None and time.time() < end:
    pump(0.05)
if p.poll() is None:
    p.kill()
    p.wait()
pump(0.2)
attrs = termios.tcgetattr(slave)
print(json.dumps({
    'exit': p.returncode,
    'output': out.decode('latin1'),
    'steps': steps,
    'echo': bool(attrs[3] & termios.ECHO),
    'icanon': bool(attrs[3] & termios.ICANON),
    'rawDuring': raw_during,
}))
