"""Issue 22: Debian's own Linux kernel on pier's VMM, the peer Pier's guest
is measured against. pier boots the vmlinux tools/kvm-nest prepared
(through PVH) with a busybox initramfs; Linux finds the virtio-fs device
and COM1 in the VMM's ACPI tables alone (Debian's kernel has no
virtio_mmio.device=), mounts the share with -o dax=always and reads and
writes it through the DAX window: its FUSE_SETUPMAPPING requests are
served by the same host code as Pier's. The checks are what a user sees:
the console, the host's files, pier's --stats and its exit status."""
import hashlib
import os
import re
import subprocess
import sys

import pytest

from conftest import BUILD, ROOT, run_pier, targets

sys.path.insert(0, os.path.join(ROOT, "bench"))
import linux_guest  # noqa: E402  (bench/ is not a package)

BIG = 24 * 2**20 + 4321  # twelve 2 MiB chunks and a piece
INIT = linux_guest.START + r"""
arg() { sed -n "s/.*lx\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
mkdir -p /data
mount -t virtiofs -o "$(arg mount)" data /data || echo "LX-FAIL mount"
echo "LX-MOUNT $(grep ' /data ' /proc/mounts)"
echo "LX-CPUS $(grep -c ^processor /proc/cpuinfo)"
echo "LX-HASH $(sha256sum /data/big)"
# Mapped (shared and private) against read(), then closed: a close
# writes back what the mappings touched, which Linux's DAX refuses for a
# block size that is not the page size.
daxmap check /data/big && echo LX-MAPPED
# Linux writes past the end of a file by FUSE_WRITE, even with DAX; a
# write inside it maps the chunk writable and stores into the window.
dd if=/data/big of=/data/out/copy bs=1M 2>/dev/null && sync && echo LX-COPIED
dd if=/dev/zero of=/data/out/copy bs=1M count=2 conv=notrunc 2>/dev/null && sync &&
	echo LX-OVERWRITTEN
echo LX-DONE
$(arg end) -f
"""


@pytest.fixture(scope="module")
def initrd(tmp_path_factory):
    d = tmp_path_factory.mktemp("linux")
    kdir = linux_guest.kernel_dir()
    path = d / "initrd.cpio"
    # The bench's module set (virtio_mmio among them), unpacked on the host
    # beforehand (make integration-pier: bench/linux_guest.py --prepare).
    linux_guest.initramfs(kdir, [], str(path), init=INIT,
                          bins=[os.path.join(BUILD, "progs", "musl", "daxmap")])
    return os.path.join(kdir, "vmlinux"), str(path)


@pytest.fixture(params=["plain", "huge-tmpfs"])
def share(request, tmp_path):
    """The share, in a plain directory, and on a tmpfs with huge pages (as
    the bench's data set is): it reports a 2 MiB block size, which Linux's
    DAX refuses (fuse_server.c fsrv_blksize)."""
    if request.param == "huge-tmpfs":
        tmp_path = tmp_path / "huge"
        tmp_path.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256m,huge=within_size", "huge",
                        str(tmp_path)], check=True)
        request.addfinalizer(lambda: subprocess.run(["umount", str(tmp_path)]))
    data = bytes(hashlib.sha256(str(i).encode()).digest()[i % 32] for i in range(4096)) * \
        (BIG // 4096 + 1)
    (tmp_path / "big").write_bytes(data[:BIG])
    (tmp_path / "out").mkdir()
    return tmp_path


def check_copy(share):
    """What Linux wrote reached the host's file, byte for byte: the copy,
    its first 2 MiB zeroed over."""
    big, copy = (share / "big").read_bytes(), (share / "out" / "copy").read_bytes()
    assert len(copy) == len(big)
    assert copy[:2 << 20] == bytes(2 << 20) and copy[2 << 20:] == big[2 << 20:]


def stat(err, name, field="count"):
    m = re.search(rf"^\s*{re.escape(name)}\s.*?\b{field}=(\d+)", err, re.M)
    return int(m.group(1)) if m else 0


def boot(initrd, share, *opts, mount="dax=always", end="poweroff"):
    vmlinux, cpio = initrd
    return run_pier("--vmm", "pier", "--kernel", vmlinux, "--initrd", cpio, "--mem", "1G",
                    "--share", f"data={share}", "--stats", *opts,
                    "--append", f"console=ttyS0 quiet lx.mount={mount} lx.end={end}",
                    timeout=400)


@pytest.mark.parametrize("machine", targets("pier"))
def test_linux_reads_and_writes_through_the_dax_window(machine, initrd, share):
    r = boot(initrd, share)
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    want = hashlib.sha256((share / "big").read_bytes()).hexdigest()
    assert "dax=always" in r.out and "LX-FAIL" not in r.out, r.out[-3000:]
    assert f"LX-HASH {want}  /data/big" in r.out, r.out[-3000:]
    assert "LX-OVERWRITTEN" in r.out and "LX-DONE" in r.out, r.out[-3000:]
    assert "LX-MAPPED" in r.out, r.out[-3000:]
    check_copy(share)
    # Reads came through the window (Linux maps 2 MiB chunks: 13 for the
    # file, one more for the overwrite), never by FUSE_READ; the copy went
    # by FUSE_WRITE, the overwrite not.
    assert stat(r.err, "fuse.SETUPMAPPING") >= BIG // (2 << 20) + 2, r.err[-4000:]
    assert stat(r.err, "dax.setup", "bytes") >= BIG, r.err[-4000:]
    assert stat(r.err, "fuse.READ") == 0, r.err[-4000:]
    assert BIG <= stat(r.err, "fuse.WRITE", "in") < BIG + 2**20, r.err[-4000:]


@pytest.mark.parametrize("share", ["plain"], indirect=True)
@pytest.mark.parametrize("machine", targets("pier"))
def test_linux_on_two_vcpus(machine, initrd, share):
    """pier's VMM with --cpus 2 (issue 23): Linux finds both processors in
    the MADT, starts the second by INIT and STARTUP (its vCPU thread waits
    in KVM until then), and reads, maps and writes through the window with
    both online: two vCPU threads exiting to one VMM, one device."""
    r = boot(initrd, share, "--cpus", "2")
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    assert "LX-CPUS 2" in r.out, r.out[-3000:]
    want = hashlib.sha256((share / "big").read_bytes()).hexdigest()
    assert f"LX-HASH {want}  /data/big" in r.out and "LX-OVERWRITTEN" in r.out, r.out[-3000:]
    assert "LX-MAPPED" in r.out and "LX-DONE" in r.out, r.out[-3000:]
    check_copy(share)


@pytest.mark.parametrize("machine", targets("pier"))
def test_linux_without_the_window_reads_by_fuse_read(machine, initrd, share):
    r = boot(initrd, share, "--dax", "0", mount="rw")
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    want = hashlib.sha256((share / "big").read_bytes()).hexdigest()
    assert f"LX-HASH {want}  /data/big" in r.out and "LX-OVERWRITTEN" in r.out, r.out[-3000:]
    assert "LX-MAPPED" in r.out, r.out[-3000:]
    check_copy(share)
    assert stat(r.err, "fuse.SETUPMAPPING") == 0, r.err[-4000:]
    assert stat(r.err, "fuse.READ", "out") >= BIG, r.err[-4000:]
    assert stat(r.err, "fuse.WRITE", "in") >= BIG + (2 << 20), r.err[-4000:]


@pytest.mark.parametrize("machine", targets("pier"))
def test_linux_reboot_ends_the_run(machine, initrd, share):
    """reboot(2) reaches the FADT's reset register: the run ends, status 0,
    rather than starting over."""
    r = boot(initrd, share, end="reboot")
    assert r.rc == 0, r.out[-3000:] + r.err[-3000:]
    assert "LX-DONE" in r.out and "reboot: Restarting system" in r.out, r.out[-3000:]


@pytest.mark.parametrize("machine", targets("pier"))
def test_a_program_after_the_kernel_is_refused(machine, initrd, share):
    vmlinux, cpio = initrd
    r = run_pier("--vmm", "pier", "--kernel", vmlinux, "--initrd", cpio, "--", "/bin/true")
    assert r.rc == 126 and "is not Pier's" in r.err, r.err
