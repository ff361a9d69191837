#!/usr/bin/python3
"""The thesis's nginx experiment (issue 20): Debian's nginx from the cached
Debian root serving ten static files of 0.5-12 MiB from a shared
directory, wrk on the host cycling through them for --seconds with four
connections, run, by level (each with its own baseline)

  host level (QEMU TCG here)
    host         the same nginx in a chroot of the root (the share bound
                 at /srv in a private mount namespace): the floor
    pier-qemu    pier run --vmm qemu (microvm), --publish
    linux-qemu   (below)
  nested level (pier's VMM needs /dev/kvm: inside tools/kvm-nest here)
    host-nested  the host's run, in the nested Linux
    pier-dax     pier run --vmm pier, DAX window on
    pier-nodax   and with --dax 0

Figures: requests/s and MiB/s, median of --runs wrk passes with min-max,
and each as a ratio to the host's in the same run. What carries over to
real hardware: the bytes the guest itself sent (HTTP headers) against
those the host sent from the files (sendfile), from the kernel's net line.

  linux-qemu     the Linux guest (bench/linux_guest.py: Debian's kernel on
               the same QEMU, the root and the share over virtiofsd with
               cache=auto, no DAX window: stock QEMU has none), its network
               QEMU's user networking with the port forwarded

  bench/nginx.py [--runs N] [--seconds S] [--only A,B] [--json F] [--md F]

`--json FILE` writes the figures, `--md FILE` a table per level."""
import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from common import by_level, debian_root, run_nested
import linux_guest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PIER = os.path.join(ROOT, "build", "pier")
SIZES = [512 << 10, 1 << 20, 3 << 19, 2 << 20, 3 << 20, 4 << 20, 5 << 20, 7 << 20, 9 << 20,
         12 << 20]
CONF = """daemon off;
master_process off;
worker_processes 1;
error_log stderr notice;
pid {tmp}/nginx.pid;
events {{ worker_connections 256; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  server {{ listen {port}; root /srv/www; }}
}}
"""
CYCLE = """counter = 0
request = function()
  counter = counter + 1
  return wrk.format(nil, "/f" .. (counter % 10) .. ".bin")
end
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_share(d, port):
    """d (made here): www/f0.bin .. f9.bin, nginx.conf listening on port
    with /srv/tmp for its files, cycle.lua for wrk, tmp/. Also the test's
    (tests/integration/test_net.py)."""
    os.makedirs(os.path.join(d, "www"))
    os.makedirs(os.path.join(d, "tmp"))
    rnd = random.Random(20)
    for i, size in enumerate(SIZES):
        with open(os.path.join(d, "www", f"f{i}.bin"), "wb") as f:
            f.write(rnd.randbytes(size))
    with open(os.path.join(d, "nginx.conf"), "w") as f:
        f.write(CONF.format(port=port, tmp="/srv/tmp"))
    with open(os.path.join(d, "cycle.lua"), "w") as f:
        f.write(CYCLE)


def wait_port(p, port, limit=600):
    end = time.time() + limit
    while time.time() < end:
        if p.poll() is not None:
            sys.exit(f"nginx ended: {p.returncode} {p.stderr.read()[-2000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    sys.exit(f"nothing listened on {port}")


def wrk(port, share, seconds):
    r = subprocess.run(["wrk", "-t1", "-c4", f"-d{seconds}s", "--timeout", "60s", "-s",
                        os.path.join(share, "cycle.lua"), f"http://127.0.0.1:{port}/"],
                       capture_output=True, text=True, timeout=seconds + 120)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", r.stdout)
    errors = re.search(r"Socket errors: (.*)|Non-2xx or 3xx responses: (\d+)", r.stdout)
    if r.returncode or not rps or errors:
        sys.exit(f"wrk: {r.returncode} {r.stdout} {r.stderr}")
    done = int(re.search(r"(\d+) requests in", r.stdout).group(1))
    mib = done * sum(SIZES) / len(SIZES) / seconds / (1 << 20)
    return float(rps.group(1)), mib


NGINX = ["/usr/sbin/nginx", "-e", "stderr", "-c", "/srv/nginx.conf"]


class Process:
    """nginx on the host (in a chroot) or in a pier run."""

    def __init__(self, config, root, share, port):
        self.port = port
        if config in ("host", "host-nested"):
            script = f"mount --bind {share} {root}/srv && exec chroot {root} " + " ".join(NGINX)
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c", script]
        else:
            vmm = ["--vmm", "qemu"] if config == "pier-qemu" else ["--vmm", "pier"]
            dax = ["--dax", "0"] if config == "pier-nodax" else []
            log = os.path.join(share, f"kernel-{config}.log")
            cmd = [PIER, "run", *vmm, *dax, "--mem", "512M", "--root", root, "--ro",
                   "--share", f"data={share}", "-o", "mount=data:/srv", "--log", log,
                   "--publish", f"127.0.0.1:{port}:80", "--", *NGINX]
        self.p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)

    def ready(self):
        wait_port(self.p, self.port)

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


class LinuxGuest:
    """The same nginx in the Linux guest (linux_guest.Server)."""

    def __init__(self, root, share, port):
        self.work = tempfile.TemporaryDirectory()
        self.server = linux_guest.Server(root, share, NGINX, port, 80, self.work.name)

    def ready(self):
        self.server.ready()

    def stop(self):
        self.server.stop()
        self.work.cleanup()


def stats(xs):
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def measure(config, root, runs, seconds):
    with tempfile.TemporaryDirectory() as share:
        port = free_port()
        make_share(share, port if config in ("host", "host-nested") else 80)
        server = (LinuxGuest(root, share, port) if config == "linux-qemu"
                  else Process(config, root, share, port))
        try:
            server.ready()
            wrk(port, share, 1)  # warm: files into the host's page cache, DAX mapped
            got = [wrk(port, share, seconds) for _ in range(runs)]
        finally:
            server.stop()
        out = {"rps": stats([g[0] for g in got]), "mib_s": stats([g[1] for g in got])}
        log = os.path.join(share, f"kernel-{config}.log")
        if os.path.exists(log):
            m = re.search(r"sent (\d+) bytes from the program, (\d+) from the host's files",
                          open(log).read())
            if m:
                out["guest_sent_bytes"], out["host_file_bytes"] = int(m[1]), int(m[2])
        return out


LEVELS = {"host": ["host", "pier-qemu", "linux-qemu"],
          "nested": ["host-nested", "pier-dax", "pier-nodax"]}
ALL = LEVELS["host"] + LEVELS["nested"]


def nested(cfgs, runs, seconds):
    """The nested level's figures: here with /dev/kvm, else inside
    tools/kvm-nest (wrk runs in the nested machine with its nginx)."""
    return run_nested(__file__, ["--runs", str(runs), "--seconds", str(seconds), "--only",
                                 ",".join(cfgs)], 4096)["configs"]


def markdown(doc):
    L = [f"nginx, 10 files of 0.5-12 MiB, wrk -c4 for {doc['seconds']} s, {doc['runs']} runs "
         "(median, min-max; ratio to the host's at the same level, in this run)", ""]
    for level, cfgs in LEVELS.items():
        rows = [c for c in cfgs if c in doc["configs"]]
        if not rows:
            continue
        host = doc["configs"].get(cfgs[0])
        L += [f"{level} level:", "",
              "| config | requests/s | MiB/s | vs host | guest-sent / host-sent bytes |",
              "|---|---:|---:|---:|---:|"]
        for config in rows:
            r = doc["configs"][config]
            ratio = f"{r['rps']['median'] / host['rps']['median']:.2f}x" if host else "-"
            bytes_ = (f"{r['guest_sent_bytes']:,} / {r['host_file_bytes']:,}"
                      if "host_file_bytes" in r else "-")
            L.append(f"| {config} | {r['rps']['median']:.0f} ({r['rps']['min']:.0f}-"
                     f"{r['rps']['max']:.0f}) | {r['mib_s']['median']:.0f} | {ratio} | "
                     f"{bytes_} |")
        L.append("")
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--only", default=",".join(ALL))
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    want = [c for c in a.only.split(",") if c]
    if set(want) - set(ALL):
        ap.error(f"unknown configurations {sorted(set(want) - set(ALL))}; known: {ALL}")
    root = debian_root()
    doc = {"runs": a.runs, "seconds": a.seconds, "configs": {}}
    if a.inner:
        doc["configs"] = {c: measure(c, root, a.runs, a.seconds) for c in want}
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
        return
    host_cfgs, nest_cfgs = by_level(LEVELS, want)
    for config in host_cfgs:
        doc["configs"][config] = measure(config, root, a.runs, a.seconds)
    if nest_cfgs:
        doc["configs"].update(nested(nest_cfgs, a.runs, a.seconds))
    text = markdown(doc)
    print(text, end="")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(doc, f, indent=1)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
