"""How `hushctl fleet status` reads an agent's status answer: the last
update from last_update (hushphone.ota.history) when the firmware reports
it, else from the boot report; the slot state from the boot report."""
from hushctl.fleet import Target
from hushctl.fleet_status import StatusResult


def result(reply):
    return StatusResult(Target("127.0.0.1", 8470), "ok", "hp-x", reply)


def test_last_update_and_slot_state():
    base = {"event": "status", "version": "1.1.0", "secure_version": 2, "slot": "ota_1"}
    assert result(base).last_result is None and result(base).slot_state is None
    boot = {"state": "PENDING_VERIFY", "rollback": "yes", "confirmed": True}
    r = result(dict(base, boot=dict(boot, last_update={"result": "confirmed", "version": "1.1.0"})))
    assert (r.last_result, r.slot_state) == ("confirmed 1.1.0", "PENDING_VERIFY")
    r = result(dict(base, boot=dict(boot, last_update={"result": "rolled-back", "version": "1.2.0"})))
    assert r.last_result == "rolled-back 1.2.0"
    assert result(dict(base, boot=dict(boot, rolled_back=True))).last_result == "rolled-back"
    assert result(dict(base, boot=dict(boot, confirmed=False))).last_result == "not-confirmed"
    assert result(dict(base, boot=boot)).last_result == "confirmed"
    d = result(dict(base, boot=boot)).as_dict()
    assert (d["serial"], d["version"], d["slot"], d["status"]) == ("hp-x", "1.1.0", "ota_1", "ok")
