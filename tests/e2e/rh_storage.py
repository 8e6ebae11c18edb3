"""Storage lifecycle on real hosts (called by real_hosts.py with its helpers): a running guest
writes a marker to its disk and keeps writing while a snapshot is taken; a volume made from
the snapshot, attached to another VM, holds the marker; a template made from the snapshot
boots a new VM that has it; and the benchmark — a snapshot of a 1 GiB volume with 256 MiB
written, its time and stored size; a volume moved live between pools, and a VM moved live
to the other host with its volume."""

import hashlib
import os
import subprocess
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
                          "i=$((i+1)); echo $i > /tmp/writes; done) & sleep 0")
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

    def uploaded_volume():
        # A raw disk with an ext4 file system holding a marker, made here, POSTed as a browser
        # does (multipart) to the ticket's postURL, then attached to vm2: its host fetches it
        # from the image store and makes the qcow2 disk from it.
        import shutil
        import tempfile
        import urllib.request
        if not shutil.which("mkfs.ext4"):
            return "SKIPPED: no mkfs.ext4 here"
        d = tempfile.mkdtemp(dir=x.work)
        os.makedirs(os.path.join(d, "root"))
        with open(os.path.join(d, "root", "marker"), "w") as f:
            f.write("UPLOADMARK-%d\n" % (6 * 7))
        img = os.path.join(d, "disk.raw")
        with open(img, "wb") as f:
            f.truncate(16 << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", "-d", os.path.join(d, "root"), img], check=True)
        data = open(img, "rb").read()
        p = api.getUploadParamsForVolume(name="uploaded", zoneid=st["zone"], format="RAW",
                                         checksum=hashlib.md5(data).hexdigest())["getuploadparams"]
        boundary = "----canopyrh%d" % int(time.time())
        body = (("--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"disk.raw\"\r\n"
                 "Content-Type: application/octet-stream\r\n\r\n") % boundary).encode() + data + \
            ("\r\n--%s--\r\n" % boundary).encode()
        req = urllib.request.Request(p["postURL"], data=body, method="POST", headers={
            "Content-Type": "multipart/form-data; boundary=%s" % boundary,
            "X-signature": p["signature"], "X-metadata": p["metadata"], "X-expires": p["expires"]})
        t0 = time.monotonic()
        with urllib.request.urlopen(req, timeout=60) as r:
            check(r.status == 200, "the upload was taken: %s" % r.status)
        took = time.monotonic() - t0
        vol = api.listVolumes(id=p["id"])["volume"][0]
        check(vol["state"] == "Uploaded" and vol["size"] == 16 << 20, vol)
        v2 = st["vm2"]
        api.attachVolume(id=vol["id"], virtualmachineid=v2["id"])
        c = x.console(v2["id"])
        try:
            wait_for("the disk in the guest", lambda: c.run("ls /dev/vdb")[0] == 0, 30, 0.5)
            rc, out = c.run("mkdir -p /mnt/u && mount /dev/vdb /mnt/u && cat /mnt/u/marker; umount /mnt/u",
                            timeout=60)
        finally:
            c.close()
        check(rc == 0 and "UPLOADMARK-42" in out, "vm2 reads the uploaded disk's marker: %r" % out[-300:])
        api.detachVolume(id=vol["id"])
        api.deleteVolume(id=vol["id"])
        shutil.rmtree(d, ignore_errors=True)
        return "a 16 MiB raw disk uploaded through haproxy in %.2f s (multipart, md5 checked), attached to vm2: " \
            "the guest mounts it and reads the marker" % took
    x.step("a volume uploaded as a browser does, attached to a VM, holds what was uploaded", uploaded_volume)

    def throttled_disk():
        # A disk offering's bytesreadrate is QEMU's throttle on the disk: the guest reads a
        # hot-plugged 1 MiB/s disk at about that rate (an unthrottled one is read at once).
        off = api.createDiskOffering(name="slow", displaytext="slow", disksize=1,
                                     bytesreadrate=1 << 20, cachemode="none")["diskoffering"]
        check(off.get("diskBytesReadRate") == 1 << 20 and off.get("cacheMode") == "none", off)
        vol = api.createVolume(diskofferingid=off["id"], zoneid=st["zone"], name="slowdisk")["volume"]
        v2 = st["vm2"]
        api.attachVolume(id=vol["id"], virtualmachineid=v2["id"])
        c = x.console(v2["id"])
        try:
            wait_for("the disk in the guest", lambda: c.run("ls /dev/vdb")[0] == 0, 30, 0.5)
            # /proc/uptime in centiseconds (busybox has no date +%N); a fresh disk's blocks are
            # not in the guest's page cache, so every one is read through the throttle.
            rc, out = c.run("a=$(sed 's/ .*//;s/[.]//' /proc/uptime); "
                            "dd if=/dev/vdb of=/dev/null bs=64k count=64 2>/dev/null; "
                            "b=$(sed 's/ .*//;s/[.]//' /proc/uptime); echo T=$(( (b-a)*10 ))=", timeout=60)
        finally:
            c.close()
        ms = int(out.split("T=")[-1].split("=")[0] or 0) if "T=" in out else 0
        api.detachVolume(id=vol["id"])
        api.deleteVolume(id=vol["id"])
        check(rc == 0 and ms >= 2500, "4 MiB read from a 1 MiB/s disk took %d ms: %r" % (ms, out[-200:]))
        return "4 MiB read in %.1f s from a hot-plugged disk whose offering allows 1 MiB/s (cache none)" % (ms / 1000)
    x.step("an offering's bytesreadrate throttles its disk as the guest reads it", throttled_disk)

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
        st["snap_template"] = t["id"]
        return "template %s from the snapshot; a VM deployed from it booted in %.1f s and has %s" % (
            t["id"], ready, MARK)
    x.step("a template made from the snapshot boots a new VM that has the marker", template_from_snapshot)

    def booted(vm, old_log, old_boots):
        # The serial log is appended to; a VM restarted on the other host has a new one.
        log = x.serial_log(vm)
        want = old_boots + 1 if log == old_log else 1
        wait_for("the VM boots again", lambda: x.read(log).count("CANOPY-GUEST-READY") >= want, 120, 0.2)

    def restore():
        # A VM writes to its root disk; restoreVirtualMachine gives it a fresh root from its
        # template (the file is gone), then from the snapshot's template (the marker is there).
        v, _, _ = x.deploy("rst", 1)
        c = x.console(v["id"])
        try:
            rc, _ = c.run("echo RST-$((6*7)) > /mnt/root/rst && sync")
            check(rc == 0, "written")
        finally:
            c.close()
        old = api.listVolumes(virtualmachineid=v["id"], type="ROOT")["volume"][0]["id"]
        log = x.serial_log(v["id"])
        boots = x.read(log).count("CANOPY-GUEST-READY")
        t0 = time.monotonic()
        r = api.restoreVirtualMachine(virtualmachineid=v["id"])["virtualmachine"]
        took = time.monotonic() - t0
        check(r["state"] == "Running", r)
        new = api.listVolumes(virtualmachineid=v["id"], type="ROOT")["volume"][0]["id"]
        check(new != old, "a new root volume")
        booted(v["id"], log, boots)
        c = x.console(v["id"])
        try:
            _, out = c.run("cat /mnt/root/rst 2>&1 || echo NOFILE-$((1+1))")
            check("NOFILE-2" in out and "RST-42" not in out, "the fresh root lacks the file: %r" % out[-200:])
        finally:
            c.close()
        log = x.serial_log(v["id"])
        boots = x.read(log).count("CANOPY-GUEST-READY")
        api.restoreVirtualMachine(virtualmachineid=v["id"], templateid=st["snap_template"])
        booted(v["id"], log, boots)
        c = x.console(v["id"])
        try:
            _, out = c.run("cat /mnt/root/marker")
        finally:
            c.close()
        api.destroyVirtualMachine(id=v["id"], expunge="true")
        check(MARK in out, "restored from the snapshot's template: %r" % out[-200:])
        x.times["restoreVirtualMachine of a running tiny guest"] = took
        return "restored in %.1f s: a fresh root without the written file; then from the snapshot's template " \
            "with %s" % (took, MARK)
    if "snap_template" in st:
        x.step("restoreVirtualMachine: a fresh root from the template, or from another one", restore)

    def vm_snapshot_with_memory():
        # The guest counts seconds in memory (/tmp is its RAM): a VM snapshot with memory, the
        # counter moves on, revert -> the counter is back near the snapshot's value and counts on.
        v = st["vm1"]
        c = x.console(v["id"])
        try:
            before = x.tick(c)
            t0 = time.monotonic()
            vs = api.createVMSnapshot(virtualmachineid=v["id"], snapshotmemory="true", name="rh-mem")["vmsnapshot"]
            took = time.monotonic() - t0
            check(vs["state"] == "Ready" and vs["type"] == "DiskAndMemory", vs)
            wait_for("the counter moves on", lambda: x.tick(c) >= before + 8, 60, 1)
            moved = x.tick(c)
            t1 = time.monotonic()
            api.revertToVMSnapshot(vmsnapshotid=vs["id"])
            reverted_in = time.monotonic() - t1
            back = x.tick(c)
            check(back < moved - 3, "the counter is back: %d before, %d after moving on, %d after the revert"
                  % (before, moved, back))
            wait_for("the counter continues", lambda: x.tick(c) > back, 30, 1)
        finally:
            c.close()
        api.deleteVMSnapshot(vmsnapshotid=vs["id"])
        x.times["VM snapshot with memory of the running tiny guest (256 MiB)"] = took
        x.times["revert to it"] = reverted_in
        return "snapshot at counter %d (%.1f s); moved on to %d; reverted (%.1f s) -> %d, counting on" % (
            before, took, moved, reverted_in, back)
    x.step("a VM snapshot with memory: after a revert the guest continues from the snapshot's moment",
           vm_snapshot_with_memory)

    def live_volume_migration():
        # A second shared pool; vm1's root moves there while the guest writes, without an
        # I/O error in the guest, and the data is all there after.
        cl = api.listClusters(zoneid=st["zone"])["cluster"][0]
        path = os.path.join(x.work, "primary2")
        os.makedirs(path, exist_ok=True)
        pool = api.createStoragePool(name="shared2", zoneid=st["zone"], podid=cl["podid"], clusterid=cl["id"],
                                     url="filesystem://" + path)["storagepool"]
        v = st["vm1"]
        root = api.listVolumes(virtualmachineid=v["id"], type="ROOT")["volume"][0]
        st["pool1"] = root["storageid"]
        st["pool2_path"] = path
        c = x.console(v["id"])
        try:
            rc, _ = c.run("rm -f /tmp/stopw /tmp/writes; (i=0; while [ ! -e /tmp/stopw ]; do "
                          "dd if=/dev/urandom of=/mnt/root/churn bs=64k count=16 2>/dev/null; sync; "
                          "i=$((i+1)); echo $i > /tmp/writes; done) & sleep 1")
            check(rc == 0, "the writer started")
            _, out = c.run("echo W=$(cat /tmp/writes)=")
            before = int(out.split("W=")[-1].split("=")[0] or 0)
            t0 = time.monotonic()
            moved = api.migrateVolume(volumeid=root["id"], storageid=pool["id"], livemigrate="true")["volume"]
            took = time.monotonic() - t0
            time.sleep(1)
            _, out = c.run("echo W=$(cat /tmp/writes)=")
            after = int(out.split("W=")[-1].split("=")[0] or 0)
            c.run("touch /tmp/stopw")
            _, errs = c.run("echo E=$(dmesg | grep -ci 'i/o error')=")
            _, mark = c.run("cat /mnt/root/marker")
        finally:
            c.close()
        check(moved["storageid"] == pool["id"] and moved["state"] == "Ready", moved)
        check(after > before, "the guest kept writing (%d -> %d)" % (before, after))
        check("E=0=" in errs, "no I/O errors in the guest: %r" % errs[-200:])
        check(MARK in mark, "the data is there: %r" % mark[-200:])
        check(os.path.exists(os.path.join(path, "%s.qcow2" % root["id"])), "the volume's file is on the new pool")
        x.times["live migration of the running tiny guest's root volume to another pool"] = took
        return "root of vm1 moved to shared2 in %.1f s while the guest wrote (%d -> %d writes), no I/O error" % (
            took, before, after)
    x.step("a running VM's volume moves live to another pool while the guest writes", live_volume_migration)

    def migrate_with_volume():
        # vm1 (its root on shared2 since the last step) moves to the other host and its root
        # back to the first pool in one live migration, while the guest writes: the source
        # mirrors the disk into the destination's new file over NBD, then the memory follows.
        v = api.listVirtualMachines(id=st["vm1"]["id"])["virtualmachine"][0]
        root = api.listVolumes(virtualmachineid=v["id"], type="ROOT")["volume"][0]
        dest = st["h1"] if v["hostid"] == st["h2"] else st["h2"]
        c = x.console(v["id"])
        try:
            rc, _ = c.run("rm -f /tmp/stopw /tmp/writes; (i=0; while [ ! -e /tmp/stopw ]; do "
                          "dd if=/dev/urandom of=/mnt/root/churn bs=64k count=16 2>/dev/null; sync; "
                          "i=$((i+1)); echo $i > /tmp/writes; done) & sleep 1")
            check(rc == 0, "the writer started")
            _, out = c.run("echo W=$(cat /tmp/writes)=")
            before = int(out.split("W=")[-1].split("=")[0] or 0)
        finally:
            c.close()
        t0 = time.monotonic()
        m = api.migrateVirtualMachineWithVolume(virtualmachineid=v["id"], hostid=dest,
                                                **{"migrateto[0].volume": root["id"],
                                                   "migrateto[0].pool": st["pool1"]})["virtualmachine"]
        took = time.monotonic() - t0
        check(m["hostid"] == dest and m["state"] == "Running", m)
        c = x.console(v["id"])
        try:
            time.sleep(1)
            _, out = c.run("echo W=$(cat /tmp/writes)=")
            after = int(out.split("W=")[-1].split("=")[0] or 0)
            c.run("touch /tmp/stopw")
            _, errs = c.run("echo E=$(dmesg | grep -ci 'i/o error')=")
            _, mark = c.run("cat /mnt/root/marker")
        finally:
            c.close()
        moved = api.listVolumes(id=root["id"])["volume"][0]
        check(moved["storageid"] == st["pool1"] and moved["state"] == "Ready", moved)
        check(after > before, "the guest kept writing across the migration (%d -> %d)" % (before, after))
        check("E=0=" in errs, "no I/O errors in the guest: %r" % errs[-200:])
        check(MARK in mark, "the data came along: %r" % mark[-200:])
        check(not os.path.exists(os.path.join(st["pool2_path"], "%s.qcow2" % root["id"])),
              "the old file on shared2 is deleted")
        x.times["live migration with storage of the running tiny guest (root volume to another pool)"] = took
        return "vm1 moved to host %s with its root to the first pool in %.1f s; the guest wrote on (%d -> %d)" % (
            dest, took, before, after)
    if "pool1" in st:
        x.step("migrateVirtualMachineWithVolume: a running VM and its disk move live while the guest writes",
               migrate_with_volume)

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
