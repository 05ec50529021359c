"""Keys of the simulated handset arriving on real streams: a pipe into the
MicroPython unix port's stdin (how a test or a person drives a simulated
handset), and a connected socket pair on CPython (the control socket)."""
import socket
import subprocess
import time

from tests.support.runtimes import REPO, micropython_env, micropython_exe

POLL_SCRIPT = """
import sys, time
from hushphone.hal.unix.keys import StreamKeys, stream_reader
errors = []
keys = StreamKeys(stream_reader(sys.stdin), on_error=errors.append)
got = []
start = time.ticks_ms()
while len(got) < 4 and time.ticks_diff(time.ticks_ms(), start) < 20000:
    key = keys.poll(time.ticks_diff(time.ticks_ms(), start))
    if key:
        got.append(key)
    time.sleep_ms(2)
print("KEYS", ",".join(got), "ERRORS", len(errors))
"""


def test_keys_from_a_pipe_into_the_unix_port():
    proc = subprocess.Popen([micropython_exe(), "-c", POLL_SCRIPT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=micropython_env(), cwd=str(REPO))
    try:
        proc.stdin.write("1,2\n")
        proc.stdin.flush()
        time.sleep(0.2)  # the phone polls an empty pipe meanwhile: it must not block
        proc.stdin.write("nonsense\nCALL,wait:50,hangup\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "KEYS 1,2,OFFHOOK,ONHOOK ERRORS 1" in out, out + err


def test_keys_from_a_control_socket():
    from hushphone.hal.unix.keys import StreamKeys, socket_reader

    phone_end, control = socket.socketpair()
    try:
        keys = StreamKeys(socket_reader(phone_end))
        assert keys.poll(0) is None  # nothing sent: returns at once
        control.sendall(b"5,wait:100,#\n")
        deadline = time.monotonic() + 10
        got = []
        t = 0
        while len(got) < 2 and time.monotonic() < deadline:
            key = keys.poll(t)
            if key:
                got.append((t, key))
            t += 10
            time.sleep(0.001)
        assert [k for _, k in got] == ["5", "#"]
        assert got[1][0] - got[0][0] >= 100
    finally:
        phone_end.close()
        control.close()
