import { CLONE_NAMESPACE_FLAGS, SANDBOX_SECCOMP_PROFILE, seccompSecurityOpt, type SeccompRule } from './seccomp-profile';

/** What the filter answers for `name(arg0)`: the errno of the first matching rule, or 0 for allowed. */
function verdict(name: string, arg0: bigint): number {
  const applies = (rule: SeccompRule) =>
    rule.names.includes(name) && (rule.args ?? []).every((a) => (arg0 & BigInt(a.value)) === BigInt(a.valueTwo ?? 0));
  const rule = SANDBOX_SECCOMP_PROFILE.syscalls.find(applies);
  return rule ? rule.errnoRet ?? 1 : 0;
}

describe('sandbox seccomp profile', () => {
  it('lets fork, vfork and thread creation through clone', () => {
    expect(verdict('clone', 0x01200011n)).toBe(0); // glibc fork: SIGCHLD | CHILD_SETTID | CHILD_CLEARTID
    expect(verdict('clone', 0x4111n)).toBe(0); // posix_spawn: CLONE_VM | CLONE_VFORK | SIGCHLD
    expect(verdict('clone', 0x3d0f00n)).toBe(0); // pthread_create
  });

  it.each(Object.entries(CLONE_NAMESPACE_FLAGS))('denies clone with %s, alone or among other flags', (_, bit) => {
    expect(verdict('clone', BigInt(bit))).toBe(1);
    expect(verdict('clone', BigInt(bit) | 0x01200011n)).toBe(1);
  });

  it('makes clone3 look absent so glibc falls back to clone', () => {
    expect(verdict('clone3', 0n)).toBe(38);
  });

  it.each(['ptrace', 'process_vm_readv', 'unshare', 'setns', 'mount', 'bpf', 'userfaultfd', 'keyctl', 'io_uring_setup', 'perf_event_open'])(
    'denies %s with EPERM whatever its arguments',
    (name) => expect(verdict(name, 0n)).toBe(1),
  );

  it('lets personality query and switch PER_LINUX/PER_LINUX32, not weaken the address space', () => {
    for (const ok of [0xffffffffn, 0n, 0x8n, 0x20000n, 0x20008n]) expect([ok, verdict('personality', ok)]).toEqual([ok, 0]);
    for (const bad of [0x40000n, 0x400000n, 0x100000n, 0x200000n, 0x80040000n, 0xfffffffen, 0xffffffff00040000n])
      expect([bad, verdict('personality', bad)]).toEqual([bad, 1]);
  });

  it('never puts two comparisons on one argument in a rule (runc would make them alternatives)', () => {
    for (const rule of SANDBOX_SECCOMP_PROFILE.syscalls) {
      const indexes = (rule.args ?? []).map((a) => a.index);
      expect(new Set(indexes).size).toBe(indexes.length);
    }
  });

  it('is passed to Docker as the profile text', () => {
    const opt = seccompSecurityOpt();
    expect(opt.startsWith('seccomp={')).toBe(true);
    expect(JSON.parse(opt.slice('seccomp='.length))).toEqual(SANDBOX_SECCOMP_PROFILE);
  });
});
