"""Volume encryption on real hosts (called by real_hosts.py with its helpers): a VM on an
`encryptroot` offering boots from a LUKS-encrypted qcow2 root disk; a data disk of an
`encrypt` offering is hot-plugged into it. The guest writes a marker to both and reads it back;
on the host both files say `encrypted: yes` and neither holds the marker; no key is left on
the host; after a stop and a start the guest reads its marker again."""

import glob
import os
import subprocess
import time

# Written by the guest's shell from arithmetic, so the command line never holds the marker.
MARK = "ENCMARK-%d" % (6 * 7)


def holds(path, needle):
    """Whether the file contains `needle` (read in chunks)."""
    pat = needle.encode()
    tail = b""
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                return False
            if pat in tail + b:
                return True
            tail = b[-len(pat):]


def steps(x):
    api, st, check, wait_for = x.api, x.st, x.check, x.wait_for

    def encrypted_volumes():
        base = api.listServiceOfferings(id=st["offering"])["serviceoffering"][0]
        so = api.createServiceOffering(name="rh-enc", displaytext="rh-enc", cpunumber=base["cpunumber"],
                                       cpuspeed=base["cpuspeed"], memory=base["memory"],
                                       encryptroot="true")["serviceoffering"]
        do = api.createDiskOffering(name="rh-enc-disk", displaytext="rh-enc-disk", disksize=1,
                                    encrypt="true")["diskoffering"]
        t0 = time.monotonic()
        v, _, _ = x.deploy("encvm", 1, serviceofferingid=so["id"])
        x.times["deploy on an encryptroot offering -> guest init"] = time.monotonic() - t0
        vol = None
        try:
            root = api.listVolumes(virtualmachineid=v["id"], type="ROOT")["volume"][0]
            check(root.get("encryptformat") == "LUKS", "the root volume is encrypted: %s" % root)
            vol = api.createVolume(name="rh-enc-data", zoneid=st["zone"], diskofferingid=do["id"])["volume"]
            api.attachVolume(id=vol["id"], virtualmachineid=v["id"])
            data = api.listVolumes(id=vol["id"])["volume"][0]
            check(data.get("encryptformat") == "LUKS", "the data volume is encrypted: %s" % data)
            c = x.console(v["id"])
            try:
                rc, out = c.run("for i in $(seq 64); do echo ENCMARK-$((6*7)); done > /mnt/root/encmark && sync "
                                "&& echo 3 > /proc/sys/vm/drop_caches && grep -c ENCMARK-$((6*7)) /mnt/root/encmark")
                check(rc == 0 and "64" in out, "the guest wrote and reread its root disk: %r" % out)
                wait_for("the data disk in the guest", lambda: c.run("ls /dev/vdb")[0] == 0, 30, 0.5)
                rc, out = c.run("for i in $(seq 64); do echo ENCMARK-$((6*7)); done | dd of=/dev/vdb conv=fsync "
                                "2>/dev/null && dd if=/dev/vdb bs=4096 count=1 2>/dev/null | grep -c ENCMARK-$((6*7))")
                check(rc == 0 and "64" in out, "the guest wrote and reread the data disk: %r" % out)
            finally:
                c.close()
            for path in (root["path"], data["path"]):
                info = subprocess.run(["qemu-img", "info", "-U", path], capture_output=True, text=True).stdout
                check("encrypted: yes" in info, "%s is encrypted on the host: %s" % (path, info))
                check(not holds(path, MARK), "%s does not hold the guest's marker in the clear" % path)
            inst = api.listVirtualMachines(id=v["id"])["virtualmachine"][0]["instancename"]
            vm_dir = os.path.join(x.work, "h1", "run", "vms", inst)
            check(not glob.glob(os.path.join(vm_dir, "*.key")), "no key file left in %s" % vm_dir)
            check("secret" not in open(os.path.join(vm_dir, "spec.json")).read(), "no key in the kept spec")
            # Started again, QEMU opens both disks with their keys.
            log = x.serial_log(v["id"])
            before = x.read(log).count("CANOPY-GUEST-READY")
            api.stopVirtualMachine(id=v["id"])
            t1 = time.monotonic()
            api.startVirtualMachine(id=v["id"])
            log = x.serial_log(v["id"])
            # (The serial log is appended to.)
            wait_for("encvm boots again", lambda: x.read(log).count("CANOPY-GUEST-READY") > before, 120, 0.1)
            x.times["start with an encrypted root and data disk -> guest init"] = time.monotonic() - t1
            c = x.console(v["id"])
            try:
                rc, out = c.run("grep -c ENCMARK-$((6*7)) /mnt/root/encmark; "
                                "dd if=/dev/vdb bs=4096 count=1 2>/dev/null | grep -c ENCMARK-$((6*7))")
                check(rc == 0 and out.count("64") >= 2, "both markers read after the restart: %r" % out)
            finally:
                c.close()
            check(not glob.glob(os.path.join(vm_dir, "*.key")), "no key file left after the restart")
            return "root and data disk LUKS-encrypted (qemu-img: encrypted: yes, no marker in the files); " \
                "the guest reads both after a restart; no key kept on the host"
        finally:
            if vol:
                try:
                    api.detachVolume(id=vol["id"])
                except Exception:  # noqa: BLE001 (not attached)
                    pass
            api.destroyVirtualMachine(id=v["id"], expunge="true")
            if vol:
                api.deleteVolume(id=vol["id"])

    x.step("encrypted volumes: a guest writes through LUKS-encrypted root and data disks that the host sees "
           "only as ciphertext", encrypted_volumes)
