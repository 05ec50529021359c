"""An interrupted download resumes: the update server drops the connection
half-way through the first full download; the simulated handset (MicroPython
unix port) retries with an HTTP Range request from where its flash holds
verified blocks, completes the update, reboots and confirms."""
import threading

import pytest

from hushctl import ota_server
from tests.sim.ota_sim import Signer, make_handset, run_handset
from tests.sim.pki import TestPki


class DropsFirstDownload(ota_server.BundleHandler):
    """Sends only the first half of the first whole-file GET, then cuts the
    connection (as a flaky link would)."""

    def copy_range(self, path, start, length):
        server = self.server
        with server.drop_lock:
            drop = not server.dropped and self.headers.get("Range") is None
            server.dropped = server.dropped or drop
        if not drop:
            return super().copy_range(path, start, length)
        with open(path, "rb") as f:
            f.seek(start)
            self.wfile.write(f.read(length // 2))
        self.wfile.flush()
        self.close_connection = True
        self.connection.close()


@pytest.fixture()
def server(tmp_path):
    pki = TestPki(tmp_path / "pki")
    ctx = ota_server.server_context(str(pki.server.cert_pem), str(pki.server.key_pem))
    (tmp_path / "www").mkdir()
    srv = ota_server.OtaServer(str(tmp_path / "www"), ctx, handler=DropsFirstDownload)
    srv.dropped = False
    srv.drop_lock = threading.Lock()
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield srv, pki
    srv.shutdown()
    srv.server_close()
    thread.join(10)


def test_interrupted_download_resumes_with_range(server, tmp_path):
    srv, pki = server
    signer = Signer(tmp_path / "keys")
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, 96 * 1024)
    (tmp_path / "www" / "v2.hushota").write_bytes(bundle.read_bytes())
    handset = make_handset(tmp_path / "handset", signer, signer.signed_image("1.0.0", 1, 8 * 1024))
    run_handset(handset, "boot")
    url = "https://localhost:%d/v2.hushota" % srv.server_address[1]
    _, events = run_handset(handset, "fetch", url, pki.ca.cert_der)
    result = events[-1]
    assert result["status"] == "updated", events
    assert (result["version"], result["slot"], result["confirmed"]) == ("1.1.0", "ota_1", True)
    # first attempt: whole file; second: a Range from past the bundle's
    # manifest into the image, where the verified blocks end
    first, second = result["requests"][:2]
    assert first is None and second is not None and second > len(bundle.read_bytes()) // 4
    ranges = [r for (_m, _p, r) in srv.requests if r]
    assert srv.dropped and ranges == ["bytes=%d-" % second], srv.requests
    _, events = run_handset(handset, "boot")
    assert (events[-1]["version"], events[-1]["state"]) == ("1.1.0", 2)


def test_untrusted_server_is_not_used(server, tmp_path):
    srv, pki = server
    signer = Signer(tmp_path / "keys")
    bundle = signer.bundle("v2.hushota", "1.1.0", 2, 8 * 1024)
    (tmp_path / "www" / "v2.hushota").write_bytes(bundle.read_bytes())
    handset = make_handset(tmp_path / "handset", signer, signer.signed_image("1.0.0", 1, 8 * 1024))
    url = "https://localhost:%d/v2.hushota" % srv.server_address[1]
    _, events = run_handset(handset, "fetch", url, pki.other_ca.cert_der)
    assert events[-1]["status"] == "failed" and srv.requests == []
    _, events = run_handset(handset, "boot")
    assert events[-1]["version"] == "1.0.0"
