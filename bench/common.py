"""What the start-up and process benchmarks share: the cached Debian root
(tools/debian-root.sh) and whether /dev/kvm works here."""
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def debian_root():
    """The cached Debian bookworm root's path (built on first use)."""
    r = subprocess.run([os.path.join(ROOT, "tools", "debian-root.sh")], capture_output=True,
                       text=True, check=True)
    return r.stdout.strip()


def kvm_usable():
    if os.path.exists("/sys/module/kvm_pvm"):
        return False  # pier refuses it (host/accel.c)
    try:
        os.close(os.open("/dev/kvm", os.O_RDWR))
        return True
    except OSError:
        return False
