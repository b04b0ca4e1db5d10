/** Real unix socket and epoll calls (see SocketCalls, EpollCalls). */
import { EPOLL, NETDEV, SOCK } from "./consts.ts";
import type { EpollCalls, SocketCalls } from "./kernel.ts";
import { rawSyscall, sys, sysBlocking } from "./libc.ts";
import { addr } from "./mem.ts";
import { SyscallError } from "./error.ts";
import { ADDRESS_FAMILIES, EPOLL_EVENTS, EPOLL_OPS, flagsOf, nameOf, socketType } from "./names.ts";

const MAX_SUN_PATH = 108;

/** sockaddr_un for a path, or an abstract name written with a leading "@". */
function sockaddr(address: string): { buf: Uint8Array<ArrayBuffer>; len: number } {
  const bytes = new TextEncoder().encode(address);
  if (bytes.length >= MAX_SUN_PATH) throw new SyscallError("bind", address, 36 /* ENAMETOOLONG */);
  const buf = new Uint8Array(2 + MAX_SUN_PATH);
  new DataView(buf.buffer).setUint16(0, SOCK.AF_UNIX, true);
  buf.set(bytes, 2);
  if (address.startsWith("@")) {
    buf[2] = 0;
    return { buf, len: 2 + bytes.length };
  }
  return { buf, len: 2 + bytes.length + 1 };
}

function msghdr(iov: BigUint64Array<ArrayBuffer>, control: Uint8Array<ArrayBuffer> | null) {
  const m = new BigUint64Array(7);
  m[2] = addr(iov);
  m[3] = 1n;
  if (control) {
    m[4] = addr(control);
    m[5] = BigInt(control.length);
  }
  return m;
}

const cmsgSpace = (nfds: number) => 16 + ((nfds * 4 + 7) & ~7);

/** The real socket calls. */
export const linuxSocket: SocketCalls = {
  linkUp(name) {
    const bytes = new TextEncoder().encode(name);
    if (bytes.length >= NETDEV.IFNAMSIZ) {
      throw new SyscallError("ioctl", `(SIOCGIFFLAGS, ${name})`, 36 /* ENAMETOOLONG */);
    }
    const type = NETDEV.SOCK_DGRAM | SOCK.CLOEXEC;
    const fd = sys("socket", `(AF_INET, ${socketType(type)}, 0)`, NETDEV.AF_INET, type, 0);
    try {
      const ifr = new Uint8Array(NETDEV.IFREQ_SIZE);
      ifr.set(bytes);
      sys("ioctl", `(${fd}, SIOCGIFFLAGS, ${name})`, fd, NETDEV.SIOCGIFFLAGS, addr(ifr));
      const v = new DataView(ifr.buffer);
      v.setUint16(NETDEV.IFNAMSIZ, v.getUint16(NETDEV.IFNAMSIZ, true) | NETDEV.IFF_UP, true);
      sys("ioctl", `(${fd}, SIOCSIFFLAGS, ${name})`, fd, NETDEV.SIOCSIFFLAGS, addr(ifr));
    } finally {
      rawSyscall("close", fd);
    }
  },
  socket(domain, type, protocol) {
    const what = `(${nameOf(ADDRESS_FAMILIES, domain)}, ${socketType(type)}, ${protocol})`;
    return sys("socket", what, domain, type, protocol);
  },
  socketpair(type) {
    const fds = new Int32Array(2);
    sys("socketpair", `(AF_UNIX, ${socketType(type)}, 0)`, SOCK.AF_UNIX, type, 0, addr(fds));
    return [fds[0], fds[1]];
  },
  bind(fd, address) {
    const a = sockaddr(address);
    sys("bind", address, fd, addr(a.buf), a.len);
  },
  connect(fd, address) {
    const a = sockaddr(address);
    sys("connect", address, fd, addr(a.buf), a.len);
  },
  listen(fd, backlog) {
    sys("listen", `fd ${fd}`, fd, backlog);
  },
  accept4(fd, flags) {
    for (;;) {
      const r = rawSyscall("accept4", fd, 0, 0, flags);
      if (r >= 0n) return Number(r);
      if (r === -4n) continue;
      if (r === -11n) return null;
      throw new SyscallError("accept4", `fd ${fd}`, Number(-r));
    }
  },
  sendmsg(fd, data, fds = [], flags = SOCK.MSG_NOSIGNAL) {
    const d = new Uint8Array(data);
    const iov = new BigUint64Array([addr(d), BigInt(d.length)]);
    let control: Uint8Array<ArrayBuffer> | null = null;
    if (fds.length) {
      control = new Uint8Array(cmsgSpace(fds.length));
      const v = new DataView(control.buffer);
      v.setBigUint64(0, BigInt(16 + 4 * fds.length), true);
      v.setInt32(8, SOCK.SOL_SOCKET, true);
      v.setInt32(12, SOCK.SCM_RIGHTS, true);
      fds.forEach((f, i) => v.setInt32(16 + 4 * i, f, true));
    }
    return sys("sendmsg", `fd ${fd}`, fd, addr(msghdr(iov, control)), flags);
  },
  recvmsg(fd, buf, maxFds, flags = 0) {
    const b = new Uint8Array(buf.length);
    const iov = new BigUint64Array([addr(b), BigInt(b.length)]);
    const control = maxFds > 0 ? new Uint8Array(cmsgSpace(maxFds)) : null;
    const m = msghdr(iov, control);
    let n: bigint;
    for (;;) {
      n = rawSyscall("recvmsg", fd, addr(m), flags | SOCK.MSG_CMSG_CLOEXEC);
      if (n !== -4n) break;
    }
    if (n === -11n) return null;
    if (n < 0n) throw new SyscallError("recvmsg", `fd ${fd}`, Number(-n));
    buf.set(b.subarray(0, Number(n)));
    const fds: number[] = [];
    if (control) {
      const v = new DataView(control.buffer);
      const used = Number(m[5]);
      let off = 0;
      while (off + 16 <= used) {
        const len = Number(v.getBigUint64(off, true));
        if (len < 16) break;
        if (v.getInt32(off + 8, true) === SOCK.SOL_SOCKET && v.getInt32(off + 12, true) === SOCK.SCM_RIGHTS) {
          for (let p = off + 16; p + 4 <= off + len; p += 4) fds.push(v.getInt32(p, true));
        }
        off += (len + 7) & ~7;
      }
    }
    return { n: Number(n), fds };
  },
  peerCred(fd) {
    const cred = new Int32Array(3);
    const len = new Uint32Array([12]);
    sys("getsockopt", `fd ${fd} SO_PEERCRED`, fd, SOCK.SOL_SOCKET, SOCK.SO_PEERCRED, addr(cred), addr(len));
    return { pid: cred[0], uid: cred[1] >>> 0, gid: cred[2] >>> 0 };
  },
  shutdown(fd, how) {
    sys("shutdown", `fd ${fd}`, fd, how);
  },
};

// struct epoll_event is packed (12 bytes) on x86_64 and 16 bytes on aarch64.
const EVENT_SIZE = Deno.build.arch === "aarch64" ? 16 : 12;
const DATA_OFF = Deno.build.arch === "aarch64" ? 8 : 4;

/** The real epoll calls. */
export const linuxEpoll: EpollCalls = {
  pollOne(fd, events, timeoutMs) {
    const pfd = new DataView(new ArrayBuffer(8));
    pfd.setInt32(0, fd, true);
    pfd.setInt16(4, events, true);
    const ms = Math.max(0, Math.ceil(timeoutMs));
    const ts = new BigInt64Array([BigInt(Math.floor(ms / 1000)), BigInt((ms % 1000) * 1_000_000)]);
    const n = sys("ppoll", `fd ${fd}`, addr(new Uint8Array(pfd.buffer)), 1, addr(ts), 0, 8);
    return n === 0 ? 0 : pfd.getInt16(6, true);
  },
  epollCreate() {
    return sys("epoll_create1", "", 0o2000000);
  },
  epollCtl(epfd, op, fd, events) {
    const ev = new Uint8Array(16);
    const v = new DataView(ev.buffer);
    v.setUint32(0, events, true);
    v.setBigUint64(DATA_OFF, BigInt(fd), true);
    const what = op === EPOLL.CTL_DEL
      ? `(${epfd}, EPOLL_CTL_DEL, ${fd})`
      : `(${epfd}, ${nameOf(EPOLL_OPS, op)}, ${fd}, ${flagsOf(EPOLL_EVENTS, events >>> 0)})`;
    sys("epoll_ctl", what, epfd, op, fd, addr(ev));
  },
  async epollWait(epfd, max, timeoutMs) {
    const buf = new Uint8Array(EVENT_SIZE * max);
    let n = Number(await sysBlocking("epoll_pwait", epfd, addr(buf), max, timeoutMs, 0, 8));
    if (n < 0) {
      // errno stayed on the pool thread: ask again without waiting, here, to learn it (EINTR is no error).
      const r = rawSyscall("epoll_pwait", epfd, addr(buf), max, 0, 0, 8);
      if (r < 0n && r !== -4n) throw new SyscallError("epoll_pwait", `epfd ${epfd}`, Number(-r));
      n = Math.max(0, Number(r));
    }
    const out: Array<[number, number]> = [];
    const v = new DataView(buf.buffer);
    for (let i = 0; i < n; i++) {
      out.push([Number(v.getBigUint64(i * EVENT_SIZE + DATA_OFF, true)), v.getUint32(i * EVENT_SIZE, true)]);
    }
    return out;
  },
};
