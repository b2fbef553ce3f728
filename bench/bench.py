#!/usr/bin/env python3
"""sfbpatch against Ansible and the floor, side by side (issue 14). Run it with `bench/run`.

Every tool performs the same procedure through the same simulator shell (`sfbpatch sim
shell`), on N Standard Edition servers of a persisted simulated estate whose operations take
no time (no SFBPATCH_SIM_TIME_SCALE): only orchestration is measured.

  sfbpatch  `sfbpatch run --transport local --shell "<sim shell for {host}>"`, its journal on
            disk (SQLite, WAL, synchronous=FULL).
  ansible   ansible-playbook, connection local, forks = serial = N, one task per command, each
            piping the command's text (captured from sfbpatch's own run) to the simulator
            shell for its host.
  floor     the same simulator-shell invocations from a plain loop (one thread per server),
            and two durable SQLite commits per command (the journal's start and end records).

Then the same over SSH against one loopback OpenSSH sshd per server: sfbpatch's SSH transport,
Ansible with ControlPersist and pipelining, and OpenSSH's own client with a ControlMaster (the
reference for the per-command cost of a kept-open connection).

Each measurement is the median of ROUNDS runs, the tools alternating (A B C A B C ...), each on
a fresh copy of the estate. Wall time from the clock; CPU time from getrusage(RUSAGE_CHILDREN)
(every descendant that was waited for: ansible's forks, the shells); peak memory is the largest
sum of RSS over the process tree, sampled every 5 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
DOMAIN = "bench.local"


def host(i: int) -> str:
    return f"se{i:03d}.{DOMAIN}"


def topology(n: int) -> str:
    """N Standard Edition servers, each its own pool, in one site (sfbpatch's TOML format)."""
    parts = ['[[site]]\nid = 1\nname = "Bench"\n']
    for i in range(1, n + 1):
        h = host(i)
        parts.append(
            f'[[pool]]\nfqdn = "{h}"\nproduct = "sfb2019"\nsite = 1\n'
            f'user_store = {{ sql_server = "{h}", instance = "rtc" }}\n'
        )
    parts.append(f'[[store]]\nrole = "CentralMgmtStore"\nsql_server = "{host(1)}"\ninstance = "rtc"\n')
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------------
# Measuring a command


def tree_rss_kib(root_pid: int) -> int:
    """The RSS of a process and all its descendants, in KiB (0 when gone)."""
    total = 0
    stack = [root_pid]
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children", "rb") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


class Measure:
    """Wall seconds, CPU seconds and peak tree RSS (MiB) of one run."""

    def __init__(self, wall: float, cpu: float, peak_mib: float):
        self.wall, self.cpu, self.peak_mib = wall, cpu, peak_mib


def measured(fn) -> Measure:
    """Runs `fn(on_start)`, where `fn` starts its processes and calls on_start(pid) for each
    root it wants sampled; returns its measure."""
    roots: list[int] = []
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], sum(tree_rss_kib(p) for p in list(roots)))
            done.wait(0.005)

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    start = time.perf_counter()
    try:
        fn(roots.append)
    finally:
        wall = time.perf_counter() - start
        done.set()
        t.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Measure(wall, cpu, peak[0] / 1024.0)


def run_checked(argv: list[str], on_start, env=None, stdin=None, what: str = "",
                ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess:
    p = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    on_start(p.pid)
    out, err = p.communicate()
    if p.returncode not in ok:
        sys.stderr.write(f"bench: {what or argv[0]} exited {p.returncode}\n{err.decode(errors='replace')[-3000:]}\n")
        raise SystemExit(1)
    return subprocess.CompletedProcess(argv, p.returncode, out, err)


# ---------------------------------------------------------------------------------------------
# The work


class Work:
    """N servers: a topology, a pristine estate, and the scripts sfbpatch sent to each."""

    def __init__(self, sfb: Path, tmp: Path, n: int):
        self.sfb, self.n = sfb, n
        self.dir = tmp / f"n{n}"
        self.dir.mkdir()
        self.topology = self.dir / "topology.toml"
        self.topology.write_text(topology(n))
        self.package = self.dir / "SkypeServerUpdateInstaller.exe"
        self.package.write_bytes(b"cumulative update (bench)")
        self.pristine = self.dir / "pristine"
        subprocess.run(
            [str(sfb), "sim", "init", str(self.topology), "--estate", str(self.pristine)],
            check=True, stdout=subprocess.DEVNULL,
        )
        self.hosts = [host(i) for i in range(1, n + 1)]
        self.scripts = self.dir / "scripts"
        self.capture()

    def fresh_estate(self, name: str) -> Path:
        e = self.dir / name
        shutil.rmtree(e, ignore_errors=True)
        shutil.copytree(self.pristine, e)
        # The lock file is per estate.
        (e / "estate.lock").unlink(missing_ok=True)
        return e

    def sfbpatch_run_argv(self, shell: str, journal: Path) -> list[str]:
        return [
            str(self.sfb), "run", str(self.topology), "--transport", "local", "--shell", shell,
            "--package", str(self.package), "--journal", str(journal), "--yes", "--format", "json",
        ]

    def capture(self) -> None:
        """One sfbpatch run through bench/capture-shell: every script it sends, per host."""
        estate = self.fresh_estate("capture-estate")
        shell = f"{BENCH / 'capture-shell'} {self.scripts} {self.sfb} {estate} {{host}}"
        p = subprocess.run(self.sfbpatch_run_argv(shell, self.dir / "capture.db"), capture_output=True)
        if p.returncode != 0:
            sys.stderr.write(p.stderr.decode(errors="replace"))
            raise SystemExit("bench: the capture run failed")
        self.per_host = {h: sorted((self.scripts / h).glob("*.ps1")) for h in self.hosts}
        self.commands = sum(len(v) for v in self.per_host.values())

    # -- the contenders --------------------------------------------------------------------

    def sfbpatch_local(self, on_start, shell_prefix: str = "") -> None:
        estate = self.fresh_estate("estate")
        journal = self.dir / "journal.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(journal) + suffix).unlink(missing_ok=True)
        shell = f"{shell_prefix}{self.sfb} sim shell --estate {estate} --host {{host}}"
        out = run_checked(self.sfbpatch_run_argv(shell, journal), on_start, what="sfbpatch run")
        results = json.loads(out.stdout)["servers"]
        bad = [s["fqdn"] for s in results if s["result"] != "updated"]
        if bad:
            raise SystemExit(f"bench: sfbpatch did not update {bad}")

    def floor_kept(self, on_start) -> None:
        """The floor of a kept shell: one simulator-shell process per server, fed the same
        lines one at a time (each read back to its result line), and the same commits."""
        estate = self.fresh_estate("estate")
        db = self.dir / "floor-kept.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE r (host TEXT, n INTEGER, what TEXT)")
        lock = threading.Lock()

        def commit(h: str, n: int, what: str) -> None:
            with lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO r VALUES (?, ?, ?)", (h, n, what))
                conn.execute("COMMIT")

        def server(h: str) -> None:
            p = subprocess.Popen(
                [str(self.sfb), "sim", "shell", "--estate", str(estate), "--host", h],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )
            on_start(p.pid)
            drain = threading.Thread(target=p.stderr.read, daemon=True)
            drain.start()
            for n, script in enumerate(self.per_host[h]):
                commit(h, n, "start")
                p.stdin.write(script.read_bytes())
                p.stdin.flush()
                for line in p.stdout:
                    if line.startswith(b"<<sfbpatch-exit:"):
                        break
                commit(h, n, "end")
            p.stdin.close()
            p.wait()
            drain.join()

        threads = [threading.Thread(target=server, args=(h,)) for h in self.hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        conn.close()

    def floor_local(self, on_start) -> None:
        estate = self.fresh_estate("estate")
        db = self.dir / "floor.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        conn = sqlite3.connect(db, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE r (host TEXT, n INTEGER, what TEXT)")
        lock = threading.Lock()
        failures: list[str] = []

        def commit(h: str, n: int, what: str) -> None:
            with lock:
                conn.execute("BEGIN IMMEDIATE")
                conn.execute("INSERT INTO r VALUES (?, ?, ?)", (h, n, what))
                conn.execute("COMMIT")

        def server(h: str) -> None:
            for n, script in enumerate(self.per_host[h]):
                commit(h, n, "start")
                with open(script, "rb") as f:
                    p = subprocess.Popen(
                        [str(self.sfb), "sim", "shell", "--estate", str(estate), "--host", h],
                        stdin=f, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                    )
                    on_start(p.pid)
                    p.communicate()
                commit(h, n, "end")

        threads = [threading.Thread(target=server, args=(h,)) for h in self.hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        conn.close()
        if failures:
            raise SystemExit(f"bench: floor failures {failures}")

    def ansible_playbook(self, estate: Path, shell_cmd: str) -> Path:
        """One task per command index; a host without that command skips it (`when`)."""
        most = max(len(v) for v in self.per_host.values())
        lines = ["- hosts: servers", "  gather_facts: false", f"  serial: {self.n}", "  tasks:"]
        for i in range(most):
            have = [h for h in self.hosts if len(self.per_host[h]) > i]
            lines.append(f"    - name: command {i:03d}")
            lines.append("      ansible.builtin.shell: >-")
            lines.append(f"        {shell_cmd} < {self.scripts}/{{{{ inventory_hostname }}}}/{i:03d}.ps1")
            # The simulator's shell answers 1 as PowerShell does for a failed cmdlet; the
            # orchestration is what is measured, and sfbpatch reads its result line itself.
            lines.append("      failed_when: false")
            if len(have) != len(self.hosts):
                lines.append(f"      when: inventory_hostname in {json.dumps(have)}")
        book = self.dir / "playbook.yml"
        book.write_text("\n".join(lines) + "\n")
        return book

    def ansible_local(self, on_start, ansible: Path) -> None:
        estate = self.fresh_estate("estate")
        inv = self.dir / "inventory-local.ini"
        py = ansible.parent / "python"
        inv.write_text(
            "[servers]\n"
            + "".join(f"{h} ansible_connection=local ansible_python_interpreter={py}\n" for h in self.hosts)
        )
        book = self.ansible_playbook(estate, f"{self.sfb} sim shell --estate {estate} --host {{{{ inventory_hostname }}}}")
        run_checked(
            [str(ansible), "-i", str(inv), "-f", str(self.n), str(book)], on_start,
            env=ansible_env(self.dir), what="ansible-playbook",
        )


def ansible_env(d: Path) -> dict:
    env = dict(os.environ)
    env.update({
        "ANSIBLE_HOST_KEY_CHECKING": "False",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
        "ANSIBLE_LOCAL_TEMP": str(d / "ansible-tmp"),
        "ANSIBLE_REMOTE_TMP": str(d / "ansible-remote-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "True",
        "ANSIBLE_SSH_ARGS": f"-o ControlMaster=auto -o ControlPersist=60s -o ControlPath={d}/cm-%C",
    })
    return env


# ---------------------------------------------------------------------------------------------
# SSH: one loopback sshd per server, its "powershell.exe" the simulator's shell


class SshLab:
    def __init__(self, sfb: Path, work: Work):
        self.work = work
        d = work.dir / "ssh"
        d.mkdir()
        self.dir = d
        self.estate = work.dir / "ssh-estate"
        os.makedirs("/run/sshd", exist_ok=True)
        keygen(d / "client_key")
        shutil.copy(d / "client_key.pub", d / "authorized_keys")
        bindir = d / "bin"
        bindir.mkdir()
        ps = bindir / "powershell.exe"
        ps.write_text(f'#!/bin/sh\nexec "{sfb}" sim shell --estate "$SFBPATCH_SIM_ESTATE" --host "$SFBPATCH_SIM_HOST"\n')
        ps.chmod(0o755)
        self.procs: list[subprocess.Popen] = []
        self.ports: dict[str, int] = {}
        known = []
        for i, h in enumerate(work.hosts):
            keygen(d / f"host_key_{i}")
            disk = d / "disk" / h
            disk.mkdir(parents=True)
            port = free_port()
            cfg = d / f"sshd_{i}.conf"
            cfg.write_text(
                f"Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key_{i}\nPidFile {d}/sshd_{i}.pid\n"
                f"AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                f"UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nExposeAuthInfo yes\nMaxSessions 100\n"
                f"MaxStartups 200\nAcceptEnv SFBPATCH_STEP\nSubsystem sftp internal-sftp -d {disk}\n"
                f"SetEnv PATH={bindir}:/usr/bin:/bin SFBPATCH_SIM_ESTATE={self.estate} SFBPATCH_SIM_HOST={h} "
                f"SFBPATCH_SIM_DISK={disk}\n"
            )
            p = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.procs.append(p)
            self.ports[h] = port
            wait_port(port)
            key = (d / f"host_key_{i}.pub").read_text().split()[:2]
            known.append(f"[127.0.0.1]:{port} {key[0]} {key[1]}")
        self.known_hosts = d / "known_hosts"
        self.known_hosts.write_text("\n".join(known) + "\n")
        self.connections = d / "connections.toml"
        c = (f'[defaults]\nuser = "root"\nidentity_file = "{d}/client_key"\n'
             f'known_hosts = "{self.known_hosts}"\n')
        for h, p in self.ports.items():
            c += f'\n[hosts."{h}"]\naddress = "127.0.0.1"\nport = {p}\n'
        self.connections.write_text(c)

    def close(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()

    def fresh(self) -> None:
        shutil.rmtree(self.estate, ignore_errors=True)
        shutil.copytree(self.work.pristine, self.estate)
        (self.estate / "estate.lock").unlink(missing_ok=True)
        for sock in self.dir.glob("cm-*"):
            sock.unlink(missing_ok=True)

    def ssh_base(self, h: str) -> list[str]:
        return [
            "ssh", "-q", "-i", str(self.dir / "client_key"), "-p", str(self.ports[h]),
            "-o", f"UserKnownHostsFile={self.known_hosts}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "ControlMaster=auto", "-o", "ControlPersist=60s",
            "-o", f"ControlPath={self.dir}/cm-%C", "root@127.0.0.1",
        ]

    def sfbpatch(self, on_start) -> None:
        self.fresh()
        journal = self.work.dir / "ssh-journal.db"
        for suffix in ("", "-wal", "-shm"):
            Path(str(journal) + suffix).unlink(missing_ok=True)
        out = run_checked(
            [str(self.work.sfb), "run", str(self.work.topology), "--transport", "ssh", "--connections",
             str(self.connections), "--package", str(self.work.package), "--journal", str(journal),
             "--yes", "--format", "json"],
            on_start, what="sfbpatch run --transport ssh",
        )
        bad = [s["fqdn"] for s in json.loads(out.stdout)["servers"] if s["result"] != "updated"]
        if bad:
            raise SystemExit(f"bench: sfbpatch over SSH did not update {bad}")

    def openssh(self, on_start) -> None:
        """OpenSSH's client with a ControlMaster: each command a new session on one connection."""
        self.fresh()

        def server(h: str) -> None:
            for script in self.work.per_host[h]:
                with open(script, "rb") as f:
                    p = subprocess.Popen(self.ssh_base(h) + ["powershell.exe"], stdin=f,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    on_start(p.pid)
                    p.communicate()

        threads = [threading.Thread(target=server, args=(h,)) for h in self.work.hosts]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        # The masters (ControlPersist) are part of the cost: stop them.
        for h in self.work.hosts:
            subprocess.run(self.ssh_base(h)[:-1] + ["-O", "exit", "root@127.0.0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def ansible(self, on_start, ansible: Path) -> None:
        self.fresh()
        inv = self.work.dir / "inventory-ssh.ini"
        py = sys.executable
        inv.write_text("[servers]\n" + "".join(
            f"{h} ansible_host=127.0.0.1 ansible_port={p} ansible_user=root "
            f"ansible_ssh_private_key_file={self.dir}/client_key ansible_python_interpreter={py} "
            f"ansible_ssh_common_args='-o UserKnownHostsFile={self.known_hosts}'\n"
            for h, p in self.ports.items()))
        book = self.work.ansible_playbook(self.estate, "powershell.exe")
        env = ansible_env(self.dir)
        run_checked([str(ansible), "-i", str(inv), "-f", str(self.work.n), str(book)], on_start,
                    env=env, what="ansible-playbook (ssh)")
        for h in self.work.hosts:
            subprocess.run(self.ssh_base(h)[:-1] + ["-O", "exit", "root@127.0.0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise SystemExit(f"bench: sshd on port {port} did not start")


# ---------------------------------------------------------------------------------------------
# Rounds and the table


def rounds(contenders: dict, n_rounds: int) -> dict[str, list[Measure]]:
    """Each contender once per round, alternating; returns every measure."""
    got: dict[str, list[Measure]] = {k: [] for k in contenders}
    for r in range(n_rounds):
        for name, fn in contenders.items():
            m = measured(fn)
            got[name].append(m)
            print(f"bench:   round {r + 1} {name}: {m.wall:.3f} s wall, {m.cpu:.3f} s CPU, "
                  f"{m.peak_mib:.1f} MiB", file=sys.stderr, flush=True)
    return got


def med(ms: list[Measure], attr: str) -> float:
    return statistics.median(getattr(m, attr) for m in ms)


def row(label: str, commands: int, ms: list[Measure]) -> str:
    return (f"| {label} | {commands} | {med(ms, 'wall'):.3f} | {med(ms, 'cpu'):.2f} | "
            f"{med(ms, 'peak_mib'):.0f} |")


def ratio(a: list[Measure], b: list[Measure], attr: str = "wall") -> str:
    x, y = med(a, attr), med(b, attr)
    return f"{x / y:.3f}" if y > 0 else "n/a"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sfbpatch", type=Path, required=True)
    ap.add_argument("--ansible", type=Path, required=True, help="ansible-playbook")
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ssh-size", type=int, default=10)
    ap.add_argument("--estate-servers", type=int, default=2000)
    ap.add_argument("--start-cost", type=float, default=0.3)
    ap.add_argument("--start-size", type=int, default=10)
    args = ap.parse_args()
    sfb = args.sfbpatch.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="sfbpatch-bench-"))
    out: list[str] = []
    summary: list[str] = []
    try:
        out.append("### Local: N Standard Edition servers through the simulator's shell\n")
        out.append(f"Medians of {args.rounds} alternating rounds.\n")
        out.append("| N | tool | commands | wall s | CPU s | peak MiB |")
        out.append("|---|---|---|---|---|---|")
        ratios = ["", "| N | sfbpatch / Ansible (wall) | sfbpatch / floor, process per command (wall) | "
                  "sfbpatch / floor, process per server (wall) | sfbpatch / Ansible (CPU) |",
                  "|---|---|---|---|---|"]
        for n in [int(x) for x in args.sizes.split(",") if x]:
            print(f"bench: N = {n}", file=sys.stderr, flush=True)
            w = Work(sfb, tmp, n)
            got = rounds({
                "sfbpatch": w.sfbpatch_local,
                "ansible": lambda s, w=w: w.ansible_local(s, args.ansible),
                "floor": w.floor_local,
                "floor-kept": w.floor_kept,
            }, args.rounds)
            for name, label in (("sfbpatch", "sfbpatch"), ("ansible", "Ansible"),
                                ("floor", "floor: a process per command"),
                                ("floor-kept", "floor: a process per server")):
                out.append(row(f"{n} | {label}", w.commands, got[name]))
            ratios.append(f"| {n} | {ratio(got['sfbpatch'], got['ansible'])} | "
                          f"{ratio(got['sfbpatch'], got['floor'])} | {ratio(got['sfbpatch'], got['floor-kept'])} | "
                          f"{ratio(got['sfbpatch'], got['ansible'], 'cpu')} |")
            if n == 10:
                summary.append(f"local N=10: sfbpatch/Ansible {ratio(got['sfbpatch'], got['ansible'])}, "
                               f"sfbpatch/floor {ratio(got['sfbpatch'], got['floor'])}")
        out.extend(ratios)

        if args.start_cost > 0 and args.start_size > 0:
            # A shell whose start costs --start-cost seconds, as powershell.exe's does.
            n = args.start_size
            start_dir = tmp / "start"
            start_dir.mkdir()
            w = Work(sfb, start_dir, n)
            counts = {}

            def slow(delay: float, tag: str):
                def go(on_start):
                    count = w.dir / f"starts-{tag}"
                    count.unlink(missing_ok=True)
                    w.sfbpatch_local(on_start, f"{BENCH / 'slow-shell'} {delay} {count} ")
                    counts[tag] = len(count.read_text().splitlines())
                return go

            print(f"bench: start cost {args.start_cost} s, N = {n}", file=sys.stderr, flush=True)
            got = rounds({"zero": slow(0.0, "zero"), "slow": slow(args.start_cost, "slow")}, args.rounds)
            extra = med(got["slow"], "wall") - med(got["zero"], "wall")
            out.append("")
            out.append(f"### A shell that takes {args.start_cost} s to start (N = {n}, servers in parallel)\n")
            out.append("| shell start | shell processes started | wall s |")
            out.append("|---|---|---|")
            out.append(f"| 0 s | {counts['zero']} | {med(got['zero'], 'wall'):.3f} |")
            out.append(f"| {args.start_cost} s | {counts['slow']} | {med(got['slow'], 'wall'):.3f} |")
            out.append("")
            out.append(f"Extra wall time: {extra:.2f} s = {extra / args.start_cost:.1f} starts' worth "
                       f"({counts['slow'] / n:.1f} shell processes per server).")
            summary.append(f"start cost: +{extra:.2f} s ({extra / args.start_cost:.1f} starts)")

        if args.ssh_size > 0:
            # SSH
            print(f"bench: SSH, N = {args.ssh_size}", file=sys.stderr, flush=True)
            ssh_dir = tmp / "ssh"
            ssh_dir.mkdir()
            w = Work(sfb, ssh_dir, args.ssh_size)
            lab = SshLab(sfb, w)
            try:
                got = rounds({
                    "sfbpatch": lab.sfbpatch,
                    "ansible": lambda s: lab.ansible(s, args.ansible),
                    "openssh": lab.openssh,
                }, args.rounds)
            finally:
                lab.close()
            out.append("")
            out.append(f"### SSH: N = {args.ssh_size}, one loopback sshd per server\n")
            out.append("| tool | commands | wall s | CPU s | peak MiB |")
            out.append("|---|---|---|---|---|")
            for name, label in (("sfbpatch", "sfbpatch --transport ssh"), ("ansible", "Ansible, ControlPersist + pipelining"),
                                ("openssh", "OpenSSH client, ControlMaster")):
                out.append(row(label, w.commands, got[name]))
            out.append("")
            out.append(f"sfbpatch / Ansible over SSH (wall): {ratio(got['sfbpatch'], got['ansible'])}; "
                       f"sfbpatch / OpenSSH ControlMaster (wall): {ratio(got['sfbpatch'], got['openssh'])}.")
            summary.append(f"ssh: sfbpatch/Ansible {ratio(got['sfbpatch'], got['ansible'])}, "
                           f"sfbpatch/OpenSSH {ratio(got['sfbpatch'], got['openssh'])}")

        # The whole estate
        if args.estate_servers > 0:
            print(f"bench: whole estate, {args.estate_servers} servers", file=sys.stderr, flush=True)
            xml = tmp / "estate.xml"
            subprocess.run([str(sfb), "sim", "generate", "--servers", str(args.estate_servers), "-o", str(xml)],
                           check=True, stdout=subprocess.DEVNULL)
            result = {}

            def rehearse(on_start):
                o = run_checked([str(sfb), "rehearse", str(xml), "--scope", "all", "--format", "json"], on_start,
                                what="sfbpatch rehearse", ok=(0, 1))
                result["json"] = json.loads(o.stdout)

            got = rounds({"rehearse": rehearse}, max(1, min(3, args.rounds)))
            r = result["json"]
            makespan = r["makespan_minutes"]
            over = sum(1 for s in r["servers"] if s.get("over_budget"))
            out.append("")
            out.append(f"### The whole estate: {args.estate_servers} simulated servers, `rehearse --scope all`\n")
            out.append("| servers planned | over the outage budget | virtual makespan (min) | wall s | CPU s | peak MiB |")
            out.append("|---|---|---|---|---|---|")
            out.append(f"| {len(r['servers'])} | {over} | {makespan} | {med(got['rehearse'], 'wall'):.2f} | "
                       f"{med(got['rehearse'], 'cpu'):.2f} | {med(got['rehearse'], 'peak_mib'):.0f} |")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("\n".join(out))
    print("bench: " + "; ".join(summary), file=sys.stderr)


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
