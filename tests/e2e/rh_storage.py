"""Storage lifecycle on real hosts (called by real_hosts.py with its helpers): a running guest
writes a marker to its disk and keeps writing while a snapshot is taken; a volume made from
the snapshot, attached to another VM, holds the marker; a template made from the snapshot
boots a new VM that has it; and the benchmark — a snapshot of a 1 GiB volume with 256 MiB
written, its time and stored size."""

import time

MARK = "SNAPMARK-42"


def steps(x):
    api, st, check, wait_for = x.api, x.st, x.check, x.wait_for

    def snapshot_while_writing():
        v = st["vm1"]
        root = api.listVolumes(virtualmachineid=v["id"], type="ROOT")["volume"][0]
        c = x.console(v["id"])
        try:
            # The marker's text is computed by the guest's shell: the echoed command line
            # never contains it.
            rc, _ = c.run("echo SNAPMARK-$((6*7)) > /mnt/root/marker && sync")
            check(rc == 0, "the guest wrote its marker")
            rc, _ = c.run("rm -f /tmp/stopw; (i=0; while [ ! -e /tmp/stopw ]; do "
                          "dd if=/dev/urandom of=/mnt/root/churn bs=64k count=16 2>/dev/null; sync; "
                          "i=$((i+1)); echo $i > /tmp/writes; done) &")
            check(rc == 0, "the writer started")
            time.sleep(1)
            _, out = c.run("echo W=$(cat /tmp/writes)=")
            before = int(out.split("W=")[-1].split("=")[0] or 0)
            t0 = time.monotonic()
            snap = api.createSnapshot(volumeid=root["id"], name="rh-snap")["snapshot"]
            took = time.monotonic() - t0
            _, out = c.run("echo W=$(cat /tmp/writes)=")
            after = int(out.split("W=")[-1].split("=")[0] or 0)
            c.run("touch /tmp/stopw")
            rc, out = c.run("dmesg | grep -ci 'I/O error' || true")
        finally:
            c.close()
        check(snap["state"] == "BackedUp", snap)
        check(after > before, "the guest kept writing during the snapshot (%d -> %d)" % (before, after))
        st["snap"] = snap
        x.times["snapshot of the running tiny guest's root (64 MiB) while it writes"] = took
        return "snapshot %s BackedUp in %.1f s while the guest wrote %d more blocks; %d bytes stored" % (
            snap["id"], took, after - before, snap["physicalsize"])
    x.step("a snapshot of a running guest's disk is taken while the guest keeps writing", snapshot_while_writing)
    if "snap" not in st:
        return

    def volume_from_snapshot():
        vol = api.createVolume(snapshotid=st["snap"]["id"], name="fromsnap")["volume"]
        v2 = st["vm2"]
        api.attachVolume(id=vol["id"], virtualmachineid=v2["id"])
        c = x.console(v2["id"])
        try:
            wait_for("the disk in the guest", lambda: c.run("ls /dev/vdb")[0] == 0, 30, 0.5)
            rc, out = c.run("mkdir -p /mnt/s && mount /dev/vdb /mnt/s && cat /mnt/s/marker; umount /mnt/s",
                            timeout=60)
        finally:
            c.close()
        check(rc == 0 and MARK in out, "vm2 reads the marker from the new volume: %r" % out[-300:])
        api.detachVolume(id=vol["id"])
        api.deleteVolume(id=vol["id"])
        return "a volume from the snapshot, attached to vm2 (the other host), holds %s" % MARK
    x.step("a volume made from the snapshot and attached to another VM holds the marker", volume_from_snapshot)

    def template_from_snapshot():
        t = api.createTemplate(snapshotid=st["snap"]["id"], name="from-snapshot", ostypeid=st["ostype"])["template"]
        check(t["isready"], t)
        v, _, ready = x.deploy("fromsnap", 1, templateid=t["id"])
        c = x.console(v["id"])
        try:
            rc, out = c.run("cat /mnt/root/marker")
        finally:
            c.close()
        api.destroyVirtualMachine(id=v["id"], expunge="true")
        check(rc == 0 and MARK in out, "the new VM boots the snapshot's disk: %r" % out[-300:])
        return "template %s from the snapshot; a VM deployed from it booted in %.1f s and has %s" % (
            t["id"], ready, MARK)
    x.step("a template made from the snapshot boots a new VM that has the marker", template_from_snapshot)

    def snapshot_benchmark():
        do = api.createDiskOffering(name="bench-1g", displaytext="1 GiB", disksize=1)["diskoffering"]
        vol = api.createVolume(name="bench", zoneid=st["zone"], diskofferingid=do["id"])["volume"]
        v = st["vm1"]
        api.attachVolume(id=vol["id"], virtualmachineid=v["id"])
        c = x.console(v["id"])
        try:
            wait_for("the disk in the guest", lambda: c.run("ls /dev/vdb")[0] == 0, 30, 0.5)
            t0 = time.monotonic()
            rc, _ = c.run("dd if=/dev/urandom of=/dev/vdb bs=1M count=256 conv=fsync 2>/dev/null", timeout=900)
            wrote = time.monotonic() - t0
        finally:
            c.close()
        check(rc == 0, "the guest wrote 256 MiB")
        t0 = time.monotonic()
        s = api.createSnapshot(volumeid=vol["id"], name="bench")["snapshot"]
        took = time.monotonic() - t0
        check(s["state"] == "BackedUp", s)
        x.times["snapshot of a 1 GiB volume with 256 MiB written (running VM)"] = took
        api.deleteSnapshot(id=s["id"])
        api.detachVolume(id=vol["id"])
        api.deleteVolume(id=vol["id"])
        return "1 GiB volume, 256 MiB of random data written by the guest in %.1f s: snapshot in %.1f s, " \
            "%.0f MiB stored (virtual %d MiB)" % (wrote, took, s["physicalsize"] / 1048576.0,
                                                  s["virtualsize"] // 1048576)
    x.step("benchmark: a snapshot of a 1 GiB volume with 256 MiB written", snapshot_benchmark)
