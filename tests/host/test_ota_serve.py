"""`hushctl ota serve`: HTTPS with Range (206/Content-Range), 416, HEAD, no
path traversal, optional mutual TLS; the CLI prints its URL and stops
cleanly on Ctrl-C."""
import http.client
import signal
import ssl
import subprocess
import sys
import threading

import pytest

from hushctl import ota_server
from tests.sim.pki import TestPki
from tests.support.runtimes import REPO

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return TestPki(tmp_path_factory.mktemp("pki"))


@pytest.fixture()
def bundles(tmp_path):
    d = tmp_path / "bundles"
    d.mkdir()
    (d / "v2.hushota").write_bytes(DATA)
    (tmp_path / "secret.txt").write_text("outside the served directory")
    return d


def start(directory, pki, client_ca=None, **kw):
    ctx = ota_server.server_context(str(pki.server.cert_pem), str(pki.server.key_pem), client_ca)
    server = ota_server.OtaServer(str(directory), ctx, **kw)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread


def stop(server, thread):
    server.shutdown()
    server.server_close()
    thread.join(10)


def client(server, pki, cert=None):
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert_pem))
    if cert is not None:
        ctx.load_cert_chain(str(cert.cert_pem), str(cert.key_pem))
    return http.client.HTTPSConnection("localhost", server.server_address[1], context=ctx, timeout=30)


def request(server, pki, method, path, headers=None, cert=None):
    conn = client(server, pki, cert)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


@pytest.fixture()
def served(bundles, pki):
    server, thread = start(bundles, pki)
    yield server
    stop(server, thread)


def test_whole_file_and_ranges(served, pki):
    status, headers, body = request(served, pki, "GET", "/v2.hushota")
    assert (status, body, headers["Accept-Ranges"]) == (200, DATA, "bytes")
    assert "Python" not in headers.get("Server", "")  # no version fingerprint
    status, headers, body = request(served, pki, "GET", "/v2.hushota", {"Range": "bytes=100-199"})
    assert (status, body, headers["Content-Range"]) == (206, DATA[100:200], "bytes 100-199/10240")
    status, headers, body = request(served, pki, "GET", "/v2.hushota", {"Range": "bytes=10000-"})
    assert (status, body, headers["Content-Range"]) == (206, DATA[10000:], "bytes 10000-10239/10240")
    status, headers, body = request(served, pki, "GET", "/v2.hushota", {"Range": "bytes=-16"})
    assert (status, body) == (206, DATA[-16:])
    status, headers, body = request(served, pki, "GET", "/v2.hushota", {"Range": "bytes=10240-"})
    assert (status, headers["Content-Range"], body) == (416, "bytes */10240", b"")
    status, headers, body = request(served, pki, "GET", "/v2.hushota", {"Range": "bytes=0-1,5-6"})
    assert (status, body) == (200, DATA)  # multiple ranges: whole file, as RFC 9110 allows
    assert ("GET", "/v2.hushota", "bytes=100-199") in served.requests


def test_head(served, pki):
    status, headers, body = request(served, pki, "HEAD", "/v2.hushota")
    assert (status, headers["Content-Length"], body) == (200, "10240", b"")
    status, headers, body = request(served, pki, "HEAD", "/v2.hushota", {"Range": "bytes=0-9"})
    assert (status, headers["Content-Length"], headers["Content-Range"]) == (206, "10", "bytes 0-9/10240")


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/missing.hushota", "/", "/.hidden"])
def test_only_files_of_the_directory(served, pki, path):
    status, _, body = request(served, pki, "GET", path)
    assert status == 404 and b"outside" not in body


def test_parse_range():
    assert ota_server.parse_range("bytes=0-0", 10) == (0, 0)
    assert ota_server.parse_range("bytes=5-100", 10) == (5, 9)
    assert ota_server.parse_range("bytes=-0", 10) == "unsatisfiable"
    assert ota_server.parse_range("bytes=7-3", 10) == "unsatisfiable"
    assert ota_server.parse_range("items=0-1", 10) is None


def test_mutual_tls_requires_a_client_certificate(bundles, pki):
    server, thread = start(bundles, pki, client_ca=str(pki.ca.cert_pem))
    try:
        tech = pki.client("tech-serve")
        status, _, body = request(server, pki, "GET", "/v2.hushota", cert=tech)
        assert (status, body) == (200, DATA)
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
            request(server, pki, "GET", "/v2.hushota")
    finally:
        stop(server, thread)


def test_cli_prints_url_serves_and_stops_on_ctrl_c(bundles, pki):
    proc = subprocess.Popen(
        [sys.executable, "-m", "hushctl", "ota", "serve", str(bundles), "--cert", str(pki.server.cert_pem),
         "--key", str(pki.server.key_pem), "--port", "0"],
        cwd=str(REPO), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving ") and "https://127.0.0.1:" in line, line
        port = int(line.rsplit(":", 1)[1].strip().rstrip("/"))
        ctx = ssl.create_default_context(cafile=str(pki.ca.cert_pem))
        conn = http.client.HTTPSConnection("localhost", port, context=ctx, timeout=30)
        conn.request("GET", "/v2.hushota", headers={"Range": "bytes=0-9"})
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (206, DATA[:10])
        conn.close()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
        assert "Traceback" not in err and "stopping" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_cli_bad_certificate_is_one_line(bundles, tmp_path):
    missing = tmp_path / "nope.pem"
    proc = subprocess.run([sys.executable, "-m", "hushctl", "ota", "serve", str(bundles), "--cert", str(missing),
                           "--key", str(missing)], cwd=str(REPO), capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert proc.stderr.startswith("hushctl: error: cannot load TLS certificate/key")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_connections_are_bounded(bundles, pki):
    import socket

    server, thread = start(bundles, pki, max_connections=1)
    try:
        # A client that connects and says nothing holds the only slot
        # (its thread waits in the TLS handshake)...
        idle = socket.create_connection(("127.0.0.1", server.server_address[1]))
        done = threading.Event()
        answer = []

        def fetch():
            answer.append(request(server, pki, "GET", "/v2.hushota", {"Range": "bytes=0-3"}))
            done.set()

        worker = threading.Thread(target=fetch, daemon=True)
        worker.start()
        assert not done.wait(1.0), "a second connection was served while the only slot was taken"
        idle.close()  # ...until it goes away
        assert done.wait(30)
        assert answer[0][0] == 206 and answer[0][2] == DATA[:4]
    finally:
        stop(server, thread)


def test_encrypted_server_key_is_decrypted_in_memory(pki, tmp_path):
    """`--passphrase-file` / HUSHCTL_PASSPHRASE, as for every hushctl key."""
    from hushctl import pki as hush_pki
    from hushctl.errors import HushctlError

    key = tmp_path / "server.key.pem"
    key.write_bytes(hush_pki.private_key_pem(pki.server.key, "correct horse battery staple"))
    cert = str(pki.server.cert_pem)
    with pytest.raises(HushctlError, match="server key %s is encrypted: give --passphrase-file" % key):
        ota_server.server_context(cert, str(key))
    with pytest.raises(HushctlError, match="wrong passphrase"):
        ota_server.server_context(cert, str(key), passphrase="not the passphrase")
    ctx = ota_server.server_context(cert, str(key), passphrase=lambda: "correct horse battery staple")
    assert ctx.get_ca_certs() == [] and ctx.verify_mode == ssl.CERT_NONE  # loaded; no client CA asked for
